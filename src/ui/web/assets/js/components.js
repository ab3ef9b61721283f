// Shared pieces: form fields, forms that show the API's errors, dialogs, toasts, notices.
import {ApiError} from './api.js';
import {fill, h, icon, uid} from './dom.js';

// A labelled input with an optional hint and a place for its error. opts: label, name, type,
// autocomplete, hint, value, multiline, and any other input attribute (maxlength, inputmode...).
export function field(opts) {
  const {label, name, type = 'text', hint, value, multiline, ...rest} = opts;
  const id = uid(`f-${name}`);
  const hintId = hint ? `${id}-hint` : null;
  const errId = `${id}-err`;
  const attrs = {id, name, 'aria-describedby': [hintId, errId].filter(Boolean).join(' '), ...rest};
  const input = multiline ? h('textarea', attrs) : h('input', {type, ...attrs});
  if (value !== undefined && value !== null) input.value = String(value);
  return h('div', {class: 'field'},
    h('label', {for: id}, label),
    input,
    hint ? h('p', {class: 'hint', id: hintId}, hint) : null,
    h('p', {class: 'field-error', id: errId, hidden: true}));
}

// A password input with a Show/Hide toggle beside it.
export function passwordField(opts) {
  const wrap = field({type: 'password', ...opts});
  const input = wrap.querySelector('input');
  const toggle = h('button', {type: 'button', class: 'btn icon-only', 'aria-pressed': 'false',
                              'aria-label': `Show ${opts.label.toLowerCase()}`}, icon('eye'));
  toggle.addEventListener('click', () => {
    const show = input.type === 'password';
    input.type = show ? 'text' : 'password';
    toggle.setAttribute('aria-pressed', String(show));
    fill(toggle, icon(show ? 'eye-off' : 'eye'));
  });
  const row = h('div', {class: 'input-row'});
  input.replaceWith(row);
  row.append(input, toggle);
  return wrap;
}

export function notice(kind, text) {
  const names = {error: 'alert', info: 'info', success: 'check', warn: 'alert'};
  return h('div', {class: `notice ${kind}`, role: kind === 'error' ? 'alert' : null},
    icon(names[kind] || 'info'), h('p', {}, text));
}

// Puts a button into its busy state (a spinner, disabled: it cannot be pressed twice) and back.
export function busy(button, on) {
  if (!button) return;
  button.disabled = on;
  button.classList.toggle('busy', on);
  if (on) button.setAttribute('aria-busy', 'true');
  else button.removeAttribute('aria-busy');
}

export function clearErrors(form) {
  const banner = form.querySelector(':scope > .form-error');
  if (banner) banner.remove();
  for (const p of form.querySelectorAll('.field-error')) {
    p.hidden = true;
    p.textContent = '';
  }
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

// Shows an error: the message at the top of the form, each field's message under its field. A
// field the form does not have is named in the top message instead.
export function showError(form, err) {
  clearErrors(form);
  const fields = err instanceof ApiError ? err.fields : err.fields || {};
  const orphans = [];
  let first = null;
  for (const [name, message] of Object.entries(fields)) {
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    const slot = input && input.closest('.field') && input.closest('.field').querySelector('.field-error');
    if (!slot) {
      orphans.push(`${name}: ${message}`);
      continue;
    }
    slot.textContent = message;
    slot.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    first = first || input;
  }
  const text = [err.message, ...orphans].join(' ');
  const banner = notice('error', text);
  banner.classList.add('form-error');
  banner.tabIndex = -1;
  form.prepend(banner);
  (first || banner).focus();
  if (!first) banner.scrollIntoView({block: 'nearest'});
}

// A local validation error shaped like the API's.
export function fieldError(fields, message = 'Please correct the highlighted fields.') {
  const e = new Error(message);
  e.fields = fields;
  return e;
}

// Wires a form: on submit, the handler gets the form's values; the submit button is busy
// meanwhile; an error is shown where it belongs. The handler may return false to keep the form busy
// state off without a message.
export function onSubmit(form, handler) {
  form.setAttribute('novalidate', '');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = event.submitter || form.querySelector('[type="submit"]');
    if (button && button.disabled) return;
    clearErrors(form);
    busy(button, true);
    try {
      await handler(Object.fromEntries(new FormData(form).entries()), form);
    } catch (err) {
      // err.handled: the page already changed to say it (e.g. the vault locked).
      if (err.handled) return;
      if (form.isConnected) showError(form, err);
      else if (!(err instanceof ApiError && err.status === 401)) toast(err.message, 'error');
    } finally {
      busy(button, false);
    }
  });
  return form;
}

export function submitButton(label, kind = 'primary') {
  return h('button', {type: 'submit', class: `btn ${kind}`}, h('span', {}, label));
}

// A modal dialog (native <dialog>: the page behind it is inert, Tab stays inside, Escape closes).
// Returns {dialog, body, close}; onClose runs once however it closes.
export function openDialog(title, content, onClose) {
  const titleId = uid('dlg');
  const body = h('div', {class: 'dialog-body'});
  const closeBtn = h('button', {type: 'button', class: 'btn ghost icon-only', 'aria-label': 'Close'}, icon('close'));
  const dialog = h('dialog', {'aria-labelledby': titleId},
    h('div', {class: 'dialog-head'}, h('h2', {id: titleId}, title), closeBtn), body);
  fill(body, content);
  const opener = document.activeElement;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    if (dialog.open) dialog.close();
    dialog.remove();
    if (onClose) onClose();
    if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
  };
  closeBtn.addEventListener('click', close);
  dialog.addEventListener('close', close);
  document.body.append(dialog);
  dialog.showModal();
  const first = body.querySelector('input, textarea, select, button');
  if (first) first.focus();
  return {dialog, body, close};
}

// Asks to confirm; resolves true or false.
export function confirmDialog({title, text, confirm = 'Delete', kind = 'danger'}) {
  return new Promise((resolve) => {
    let answer = false;
    const yes = h('button', {type: 'button', class: `btn ${kind}`}, confirm);
    const no = h('button', {type: 'button', class: 'btn'}, 'Cancel');
    const d = openDialog(title, [h('p', {}, text), h('div', {class: 'form-actions'}, yes, no)],
                         () => resolve(answer));
    yes.addEventListener('click', () => {
      answer = true;
      d.close();
    });
    no.addEventListener('click', d.close);
    no.focus();
  });
}

// A short message at the bottom of the screen, read out by screen readers.
export function toast(text, kind = 'info', ms = 6000) {
  const region = document.getElementById('toasts');
  const dismiss = h('button', {type: 'button', class: 'btn ghost small', 'aria-label': 'Dismiss'}, icon('close'));
  const el = h('div', {class: `toast ${kind}`}, icon(kind === 'error' ? 'alert' : 'check'), h('p', {}, text), dismiss);
  const remove = () => el.remove();
  dismiss.addEventListener('click', remove);
  region.append(el);
  setTimeout(remove, ms);
}

// A loading line, and an error with a Retry button, for whole sections.
export function loading(text = 'Loading…') {
  return h('p', {class: 'loading', role: 'status'}, text);
}
export function loadError(err, retry) {
  return h('div', {},
    notice('error', err.message),
    retry ? h('button', {type: 'button', class: 'btn', onclick: retry}, 'Try again') : null);
}
