// Sign in, and its second step (SPEC 13) when two-step sign-in is on.
import {post} from '../api.js';
import {field, fieldError, notice, onSubmit, passwordField, submitButton} from '../components.js';
import {h, navLink} from '../dom.js';

// The second step's token lives here, in memory, for the 5 minutes the server gives it; a reload
// loses it and the user starts again.
let pending = null;  // {mfaToken, username}

export function signinPage(main, ctx) {
  const reason = ctx.state.reason;
  const form = h('form', {class: 'card', 'aria-labelledby': 'signin-title'},
    h('h1', {id: 'signin-title', tabindex: '-1'}, 'Sign in'),
    reason ? notice('info', reason) : null,
    field({label: 'Username or email', name: 'username', autocomplete: 'username', autocapitalize: 'none',
           spellcheck: 'false', maxlength: 254}),
    passwordField({label: 'Password', name: 'password', autocomplete: 'current-password'}),
    h('div', {class: 'form-actions'}, submitButton('Sign in')));
  onSubmit(form, async ({username, password}) => {
    const missing = {};
    if (!username) missing.username = 'Enter your username or email.';
    if (!password) missing.password = 'Enter your password.';
    if (Object.keys(missing).length) throw fieldError(missing);
    const res = await post('/auth/signin', {username, password}, {anonymous: true});
    if (res && res.mfa_required) {
      pending = {mfaToken: res.mfa_token, username};
      ctx.navigate('/ui/signin/second-step');
      return;
    }
    await ctx.signedIn();
  });
  main.append(form, h('p', {class: 'below'}, 'New here? ', navLink('/ui/signup', {}, 'Create an account')));
  form.querySelector('input').focus();
}

export function secondStepPage(main, ctx) {
  if (!pending) {
    ctx.navigate('/ui/signin', {reason: 'Please enter your password again to sign in.'}, {replace: true});
    return;
  }
  let recovery = false;
  const codeField = field({label: 'Code from your authenticator app', name: 'code', autocomplete: 'one-time-code',
                           inputmode: 'numeric', autocapitalize: 'none', spellcheck: 'false', maxlength: 64,
                           hint: 'The 6-digit code your app shows for strongroom now.'});
  const label = codeField.querySelector('label');
  const hint = codeField.querySelector('.hint');
  const input = codeField.querySelector('input');
  const switcher = h('button', {type: 'button', class: 'linklike'}, 'Use a recovery code instead');
  switcher.addEventListener('click', () => {
    recovery = !recovery;
    label.textContent = recovery ? 'Recovery code' : 'Code from your authenticator app';
    hint.textContent = recovery ? 'One of the ten codes you saved when you turned on two-step sign-in. Each works once.'
      : 'The 6-digit code your app shows for strongroom now.';
    input.setAttribute('inputmode', recovery ? 'text' : 'numeric');
    switcher.textContent = recovery ? 'Use a code from your app instead' : 'Use a recovery code instead';
    input.value = '';
    input.focus();
  });
  const form = h('form', {class: 'card', 'aria-labelledby': 'step-title'},
    h('h1', {id: 'step-title', tabindex: '-1'}, 'Second step'),
    h('p', {class: 'lead'}, 'Two-step sign-in is on for ', h('strong', {}, pending.username), '.'),
    codeField,
    h('div', {class: 'form-actions'}, submitButton('Verify'), switcher));
  onSubmit(form, async ({code}) => {
    const value = code.trim();
    if (!value) throw fieldError({code: 'Enter the code.'});
    try {
      await post('/auth/signin/2fa', {mfa_token: pending.mfaToken, code: value}, {anonymous: true});
    } catch (err) {
      if (err.status === 401 && err.code !== 'invalid_code') {
        // The mfa_token expired, was used up or spent: start again.
        pending = null;
        ctx.navigate('/ui/signin', {reason: 'That sign-in attempt has ended. Please enter your password again.'},
                     {replace: true});
        return;
      }
      if (err.code === 'invalid_code' && !Object.keys(err.fields).length) err.fields = {code: err.message};
      throw err;
    }
    pending = null;
    await ctx.signedIn();
  });
  main.append(form, h('p', {class: 'below'}, navLink('/ui/signin', {}, 'Back to sign in')));
  input.focus();
}
