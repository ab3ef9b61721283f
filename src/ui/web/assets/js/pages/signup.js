// Create an account, then sign straight in.
import {post} from '../api.js';
import {field, fieldError, onSubmit, passwordField, submitButton} from '../components.js';
import {h, navLink} from '../dom.js';

export function signupPage(main, ctx) {
  const form = h('form', {class: 'card', 'aria-labelledby': 'signup-title'},
    h('h1', {id: 'signup-title', tabindex: '-1'}, 'Create account'),
    field({label: 'Username', name: 'username', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false',
           maxlength: 50, hint: '3–50 letters, digits, - or _.'}),
    field({label: 'Email', name: 'email', type: 'email', autocomplete: 'email', maxlength: 254}),
    passwordField({label: 'Password', name: 'password', autocomplete: 'new-password', maxlength: 128,
                   hint: '12–128 characters. A long passphrase is best; common passwords and your username are refused.'}),
    h('div', {class: 'form-actions'}, submitButton('Create account')));
  onSubmit(form, async ({username, email, password}) => {
    const missing = {};
    if (!username) missing.username = 'Choose a username.';
    if (!email) missing.email = 'Enter your email address.';
    if (!password) missing.password = 'Choose a password.';
    if (Object.keys(missing).length) throw fieldError(missing);
    await post('/auth/signup', {username, email, password}, {anonymous: true});
    await post('/auth/signin', {username, password}, {anonymous: true});
    await ctx.signedIn();
  });
  main.append(form, h('p', {class: 'below'}, 'Already have an account? ', navLink('/ui/signin', {}, 'Sign in')));
  form.querySelector('input').focus();
}
