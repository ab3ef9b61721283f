// Security: change password; two-step sign-in (SPEC 13) set-up with the QR code, its recovery codes,
// turning it off; deleting the account.
import {get, post} from '../api.js';
import {emit} from '../bus.js';
import {copySecret} from '../clipboard.js';
import {confirmDialog, field, fieldError, loadError, loading, notice, onSubmit, passwordField, submitButton, toast}
  from '../components.js';
import {fill, h, icon} from '../dom.js';
import {setLeaveGuard} from '../router.js';

export function securityPage(main, ctx) {
  const twofa = h('section', {class: 'card', 'aria-labelledby': 'tfa-title'});
  const state = {enabled: false, sync: () => {}};
  main.append(
    h('div', {class: 'page-head'}, h('h1', {tabindex: '-1'}, 'Security')),
    changePassword(),
    twofa,
    deleteAccount(ctx, state));

  const load = async () => {
    fill(twofa, title(), loading());
    try {
      const s = await get('/auth/2fa');
      state.enabled = s.totp_enabled;
      renderTwofa(twofa, s, load);
    } catch (err) {
      state.enabled = false;
      if (err.status === 404) fill(twofa, title(), h('p', {class: 'lead'}, 'This server does not offer two-step sign-in.'));
      else fill(twofa, title(), loadError(err, load));
    }
    state.sync();
  };
  load();
  return () => setLeaveGuard(null);
}

function changePassword() {
  const form = h('form', {class: 'card', 'aria-labelledby': 'pw-title'},
    h('h2', {id: 'pw-title'}, icon('lock'), 'Change password'),
    h('p', {class: 'lead'}, 'Your other sessions are signed out when the password changes.'),
    passwordField({label: 'Current password', name: 'current_password', autocomplete: 'current-password'}),
    passwordField({label: 'New password', name: 'new_password', autocomplete: 'new-password', maxlength: 128,
                   hint: '12–128 characters; not a common password, not containing your username, not your vault password.'}),
    passwordField({label: 'New password again', name: 'confirm', autocomplete: 'new-password', maxlength: 128}),
    h('div', {class: 'form-actions'}, submitButton('Change password')));
  onSubmit(form, async ({current_password, new_password, confirm}) => {
    if (new_password !== confirm) throw fieldError({confirm: 'The two new passwords differ.'});
    const res = await post('/auth/change-password', {current_password, new_password});
    form.reset();
    const n = res && Number.isInteger(res.sessions_revoked) ? res.sessions_revoked : 0;
    toast(n ? `Password changed. ${n} other session${n === 1 ? ' was' : 's were'} signed out.` : 'Password changed.', 'success');
  });
  return form;
}

function title() {
  return h('h2', {id: 'tfa-title'}, icon('key'), 'Two-step sign-in');
}

function renderTwofa(card, status, reload) {
  if (!status.totp_enabled) {
    const start = h('button', {type: 'button', class: 'btn primary'}, 'Turn on two-step sign-in');
    start.addEventListener('click', () => setupStep1(card, reload));
    fill(card, title(),
      h('p', {}, h('span', {class: 'badge off'}, 'Off')),
      h('p', {class: 'lead'}, 'Ask for a code from an authenticator app after your password, so a stolen password alone does not open your account.'),
      start);
    return;
  }
  const left = status.recovery_codes_left;
  const regen = h('button', {type: 'button', class: 'btn'}, 'New recovery codes');
  const off = h('button', {type: 'button', class: 'btn danger'}, 'Turn off');
  regen.addEventListener('click', () => codeForm(card, 'New recovery codes', 'Your current recovery codes stop working.',
    'Create new codes', async (body) => {
      const res = await post('/auth/2fa/recovery-codes', body);
      showCodes(card, res.recovery_codes, reload);
    }, reload));
  off.addEventListener('click', () => codeForm(card, 'Turn off two-step sign-in', 'Your password alone will sign you in again.',
    'Turn off', async (body) => {
      await post('/auth/2fa/disable', body);
      toast('Two-step sign-in is off.', 'success');
      reload();
    }, reload));
  fill(card, title(),
    h('p', {}, h('span', {class: 'badge'}, 'On')),
    h('p', {class: 'lead'}, `Sign-in asks for a code from your authenticator app. ${left} recovery code${left === 1 ? '' : 's'} left.`),
    left <= 3 ? notice('warn', 'You are running out of recovery codes: create new ones.') : null,
    h('div', {class: 'form-actions'}, regen, off));
}

// A form asking for the password and a current code (or a recovery code) before an action.
function codeForm(card, heading, text, action, run, reload) {
  const cancel = h('button', {type: 'button', class: 'btn'}, 'Cancel');
  cancel.addEventListener('click', reload);
  const form = h('form', {'aria-label': heading},
    h('h3', {}, heading), h('p', {class: 'lead'}, text),
    passwordField({label: 'Password', name: 'password', autocomplete: 'current-password'}),
    field({label: 'Code from your app, or a recovery code', name: 'code', autocomplete: 'one-time-code',
           autocapitalize: 'none', spellcheck: 'false', maxlength: 64}),
    h('div', {class: 'form-actions'}, submitButton(action, heading.startsWith('Turn off') ? 'danger' : 'primary'), cancel));
  onSubmit(form, async ({password, code}) => run({password, code: code.trim()}));
  fill(card, title(), form);
  form.querySelector('input').focus();
}

function steps(n) {
  return h('ol', {class: 'steps', 'aria-label': 'Progress'},
    ['1. Password', '2. Scan and confirm', '3. Recovery codes'].map((t, i) =>
      h('li', {'aria-current': i + 1 === n ? 'step' : null}, t)));
}

function setupStep1(card, reload) {
  const cancel = h('button', {type: 'button', class: 'btn'}, 'Cancel');
  cancel.addEventListener('click', reload);
  const form = h('form', {'aria-label': 'Confirm your password'},
    steps(1),
    passwordField({label: 'Password', name: 'password', autocomplete: 'current-password',
                   hint: 'Confirm it is you before we create your secret.'}),
    h('div', {class: 'form-actions'}, submitButton('Continue'), cancel));
  onSubmit(form, async ({password}) => {
    const res = await post('/auth/2fa/totp/setup', {password});
    setupStep2(card, res, reload);
  });
  fill(card, title(), form);
  form.querySelector('input').focus();
}

// The QR code is the server's SVG, shown as an image from a data: URL: an image cannot run script,
// and the markup never enters this page's DOM.
function qrImage(svg) {
  const bytes = new TextEncoder().encode(svg);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return h('img', {class: 'qr', src: `data:image/svg+xml;base64,${btoa(bin)}`,
                   alt: 'QR code to scan with your authenticator app'});
}

function setupStep2(card, setup, reload) {
  const cancel = h('button', {type: 'button', class: 'btn'}, 'Cancel');
  cancel.addEventListener('click', reload);
  const grouped = setup.secret.replace(/(.{4})(?=.)/g, '$1 ');
  const form = h('form', {'aria-label': 'Scan and confirm'},
    steps(2),
    h('p', {}, 'Scan this code with your authenticator app (or type the secret below), then enter the 6-digit code it shows.'),
    qrImage(setup.qr_svg),
    h('p', {class: 'label'}, 'Secret'),
    h('p', {class: 'secret-text', 'data-secret': ''}, grouped),
    field({label: 'Code from your app', name: 'code', autocomplete: 'one-time-code', inputmode: 'numeric',
           autocapitalize: 'none', spellcheck: 'false', maxlength: 16}),
    h('div', {class: 'form-actions'}, submitButton('Turn on'), cancel));
  onSubmit(form, async ({code}) => {
    try {
      const res = await post('/auth/2fa/totp/confirm', {code: code.trim()});
      showCodes(card, res.recovery_codes, reload);
    } catch (err) {
      if (err.code === 'invalid_code' && !Object.keys(err.fields).length) err.fields = {code: err.message};
      throw err;
    }
  });
  fill(card, title(), form);
  form.querySelector('input[name="code"]').focus();
}

// The ten recovery codes, shown once: Copy, Download, and "I have saved them" before leaving.
function showCodes(card, codes, reload) {
  const text = `strongroom recovery codes\nEach code works once, in place of a code from your app.\n\n${codes.join('\n')}\n`;
  const copy = h('button', {type: 'button', class: 'btn'}, icon('copy'), 'Copy');
  const download = h('button', {type: 'button', class: 'btn'}, icon('download'), 'Download');
  const saved = h('input', {type: 'checkbox', id: 'codes-saved'});
  const done = h('button', {type: 'button', class: 'btn primary', disabled: true}, 'Done');
  copy.addEventListener('click', async () => {
    try {
      await copySecret(text);
      toast('Recovery codes copied. The clipboard is cleared in 30 seconds.', 'success');
    } catch {
      toast('Copying was not allowed by the browser: use Download instead.', 'error');
    }
  });
  download.addEventListener('click', () => {
    const url = URL.createObjectURL(new Blob([text], {type: 'text/plain'}));
    const a = h('a', {href: url, download: 'strongroom-recovery-codes.txt'});
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });
  saved.addEventListener('change', () => {
    done.disabled = !saved.checked;
  });
  setLeaveGuard(async () => saved.checked || confirmDialog({
    title: 'Leave without your recovery codes?',
    text: 'You have not confirmed that you saved them, and they will not be shown again.',
    confirm: 'Leave anyway'}));
  done.addEventListener('click', () => {
    setLeaveGuard(null);
    toast('Two-step sign-in is on.', 'success');
    reload();
  });
  fill(card, title(),
    steps(3),
    notice('warn', 'Save these recovery codes now: they are shown only once. Each one signs you in once if you lose your phone.'),
    h('ul', {class: 'codes', 'aria-label': 'Recovery codes'}, codes.map((c) => h('li', {}, c))),
    h('div', {class: 'form-actions spaced'}, copy, download),
    h('div', {class: 'check'}, saved, h('label', {for: 'codes-saved'}, 'I have saved these recovery codes')),
    done);
  copy.focus();
}

function deleteAccount(ctx, state) {
  const codeField = field({label: 'Code from your app, or a recovery code', name: 'code', autocomplete: 'one-time-code',
                           autocapitalize: 'none', spellcheck: 'false', maxlength: 64});
  const form = h('form', {class: 'card danger', 'aria-labelledby': 'del-title'},
    h('h2', {id: 'del-title'}, icon('trash'), 'Delete account'),
    h('p', {class: 'lead'}, 'This deletes your account and everything in it: profile, links and the whole vault. It cannot be undone.'),
    passwordField({label: 'Password', name: 'password', autocomplete: 'current-password'}),
    codeField,
    field({label: `Type your username (${ctx.user.username}) to confirm`, name: 'confirm_username', autocomplete: 'off',
           autocapitalize: 'none', spellcheck: 'false'}),
    h('div', {class: 'form-actions'}, submitButton('Delete my account', 'danger')));
  // The code field is there only when two-step sign-in is on.
  state.sync = () => {
    codeField.hidden = !state.enabled;
  };
  state.sync();
  onSubmit(form, async ({password, code, confirm_username}) => {
    if (confirm_username !== ctx.user.username) {
      throw fieldError({confirm_username: 'Type your username exactly to confirm.'});
    }
    const body = {password};
    if (state.enabled) body.code = (code || '').trim();
    await post('/auth/delete-account', body);
    emit('signed-out', 'account_deleted');
    return false;
  });
  return form;
}
