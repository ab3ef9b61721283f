// The vault (SPEC 7, 14): set up, unlock, the list with a filter and pages, entries with Reveal and
// Copy, add, edit, delete, lock (by the user, by its timer, from another tab), change the vault
// password. Whatever was decrypted lives only in this module's state and the DOM it builds, and both
// are emptied the moment the vault locks.
import {del, get, post, put, traffic} from '../api.js';
import {emit, on} from '../bus.js';
import {copySecret} from '../clipboard.js';
import {confirmDialog, field, fieldError, loadError, loading, notice, onSubmit, openDialog, passwordField,
        submitButton, toast} from '../components.js';
import {externalLink, fill, h, icon} from '../dom.js';
import {clock, when} from '../format.js';

const PAGE = 50;            // entries per page of GET /vault/entries
const HIDE_AFTER_MS = 30000;  // a revealed password hides itself again
const MASK = '••••••••••';

export function vaultPage(main) {
  const view = new VaultView(main);
  view.start();
  return () => view.destroy();
}

class VaultView {
  constructor(main) {
    this.main = main;
    this.entries = [];       // list items (no passwords)
    this.nextAfter = null;   // SPEC 14: the id to continue after, or null at the end
    this.filter = '';
    this.revealed = new Map();  // id -> {timer}; the value itself lives only in the DOM
    this.dialogs = new Set();   // open dialogs that may hold decrypted values
    this.deadline = 0;          // performance.now() at which the vault session ends
    this.ticker = 0;
    this.off = [];
    this.gone = false;
  }

  start() {
    this.off.push(on('vault-locked', ({remote}) => {
      if (remote) this.lockLocal('The vault was locked in another tab.', false);
    }));
    this.off.push(on('vault-unlocked', ({remote}) => {
      if (remote && this.state === 'locked') this.load();
    }));
    this.off.push(on('signed-out', () => this.forget()));
    const renewed = () => {
      if (this.state === 'unlocked') this.refreshDeadline();
    };
    traffic.addEventListener('vault-renewed', renewed);
    this.off.push(() => traffic.removeEventListener('vault-renewed', renewed));
    this.load();
  }

  destroy() {
    this.gone = true;
    this.forget();
    for (const off of this.off) off();
  }

  // ---- state ----

  async status() {
    const {data, headers} = await get('/vault/status', {raw: true});
    if (data.unlocked && data.expires_at) {
      // Count down on the server's clock: its Date header against its expires_at.
      const server = Date.parse(headers.get('Date') || '') || Date.now();
      this.deadline = performance.now() + Math.max(0, Date.parse(data.expires_at) - server);
    }
    return data;
  }

  async load() {
    this.state = 'loading';
    fill(this.main, this.head(), loading('Opening your vault…'));
    let s;
    try {
      s = await this.status();
    } catch (err) {
      fill(this.main, this.head(), loadError(err, () => this.load()));
      return;
    }
    if (this.gone) return;
    if (!s.initialized) this.renderSetup();
    else if (!s.unlocked) this.renderUnlock();
    else await this.renderUnlocked();
  }

  async refreshDeadline() {
    try {
      const s = await this.status();
      if (!s.unlocked) this.lockLocal('The vault locked: its session ended.');
    } catch {
      // The next tick or action will tell.
    }
  }

  // Forgets every decrypted value: list, revealed passwords, open forms. (Our clipboard copy goes
  // when the vault locks or the user signs out: main.js.)
  forget() {
    clearInterval(this.ticker);
    this.ticker = 0;
    this.entries = [];
    this.nextAfter = null;
    for (const {timer} of this.revealed.values()) clearTimeout(timer);
    this.revealed.clear();
    for (const d of [...this.dialogs]) d.close();
    this.dialogs.clear();
  }

  lockLocal(message, tell = true) {
    if (this.state !== 'unlocked') return;
    this.forget();
    if (tell) emit('vault-locked');
    this.renderUnlock(message);
  }

  // Runs a vault request; a locked or missing vault changes the view instead of showing an error.
  async call(fn) {
    try {
      return await fn();
    } catch (err) {
      if (err.code === 'vault_locked') {
        this.lockLocal('The vault locked: its session ended.');
        err.handled = true;
      } else if (err.code === 'vault_not_initialized') {
        this.forget();
        this.load();
        err.handled = true;
      }
      throw err;
    }
  }

  // ---- views ----

  head(...actions) {
    return h('div', {class: 'page-head'}, h('h1', {tabindex: '-1'}, 'Vault'), h('div', {class: 'actions'}, actions));
  }

  renderSetup() {
    this.state = 'setup';
    const form = h('form', {class: 'card', 'aria-labelledby': 'setup-title'},
      h('h2', {id: 'setup-title'}, icon('lock'), 'Set up your vault'),
      h('p', {}, 'Your vault has its own password. It encrypts everything you keep here and is never stored, ' +
                 'so nobody — not even this server — can open the vault without it. If you forget it, the ' +
                 'entries cannot be recovered.'),
      h('p', {class: 'lead'}, 'Choose a different password from the one you sign in with: then a leaked ' +
                              'account password alone does not open your vault.'),
      passwordField({label: 'Vault password', name: 'vault_password', autocomplete: 'off', maxlength: 128,
                     hint: '12–128 characters, not a common password, not your account password.'}),
      passwordField({label: 'Vault password again', name: 'confirm', autocomplete: 'off', maxlength: 128}),
      h('div', {class: 'form-actions'}, submitButton('Create vault')));
    onSubmit(form, async ({vault_password, confirm}) => {
      if (vault_password !== confirm) throw fieldError({confirm: 'The two passwords differ.'});
      await post('/vault/setup', {vault_password});
      form.reset();
      toast('Your vault is ready. Unlock it to add your first entry.', 'success');
      this.renderUnlock();
    });
    fill(this.main, this.head(), form);
  }

  renderUnlock(message) {
    this.state = 'locked';
    const form = h('form', {class: 'card', 'aria-labelledby': 'unlock-title'},
      h('h2', {id: 'unlock-title'}, icon('lock'), 'Your vault is locked'),
      message ? notice('info', message) : null,
      passwordField({label: 'Vault password', name: 'vault_password', autocomplete: 'off'}),
      h('div', {class: 'form-actions'}, submitButton('Unlock')));
    onSubmit(form, async ({vault_password}) => {
      if (!vault_password) throw fieldError({vault_password: 'Enter your vault password.'});
      try {
        await post('/vault/unlock-vault', {vault_password});
      } catch (err) {
        if (err.code === 'invalid_vault_password') err.fields = {vault_password: err.message, ...err.fields};
        throw err;
      }
      form.reset();
      emit('vault-unlocked');
      await this.load();
    });
    fill(this.main, this.head(), form);
    form.querySelector('input').focus();
  }

  async renderUnlocked() {
    this.state = 'unlocked';
    const countdown = h('span', {class: 'countdown', role: 'timer', 'aria-live': 'off'});
    const lock = h('button', {type: 'button', class: 'btn'}, icon('lock'), 'Lock now');
    const add = h('button', {type: 'button', class: 'btn primary'}, icon('plus'), 'Add entry');
    const more = h('button', {type: 'button', class: 'btn ghost'}, icon('key'), 'Change vault password');
    lock.addEventListener('click', () => this.lockNow());
    add.addEventListener('click', () => this.entryDialog(null));
    more.addEventListener('click', () => this.changePasswordDialog());

    const filter = h('input', {type: 'search', id: 'vault-filter', name: 'filter', autocomplete: 'off',
                               placeholder: 'Filter by site, account or URL', 'aria-describedby': 'vault-count'});
    filter.value = this.filter;
    filter.addEventListener('input', () => {
      this.filter = filter.value;
      this.renderList();
    });
    this.count = h('p', {class: 'meta', id: 'vault-count', 'aria-live': 'polite'});
    this.list = h('div', {}, loading('Loading entries…'));
    this.pager = h('div', {class: 'pager'});
    fill(this.main,
      this.head(countdown, lock),
      h('div', {class: 'vault-bar'},
        h('div', {class: 'filter'}, h('label', {for: 'vault-filter', class: 'visually-hidden'}, 'Filter entries'),
          icon('search'), filter),
        add),
      this.count, this.list, this.pager,
      h('div', {class: 'form-actions'}, more));

    const tick = () => {
      const left = (this.deadline - performance.now()) / 1000;
      countdown.textContent = `Locks in ${clock(left)}`;
      countdown.classList.toggle('soon', left <= 60);
      if (left <= -0.5 && !this.checking) {
        // The session has ended on the server's clock, unless a request slid it (in any tab).
        this.checking = true;
        this.refreshDeadline().finally(() => {
          this.checking = false;
        });
      }
    };
    tick();
    clearInterval(this.ticker);
    this.ticker = setInterval(tick, 1000);

    this.entries = [];
    this.nextAfter = null;
    await this.loadPage();
  }

  async loadPage() {
    const after = this.nextAfter;
    const query = `?limit=${PAGE}${after !== null ? `&after=${after}` : ''}`;
    let res;
    try {
      res = await this.call(() => get(`/vault/entries${query}`));
    } catch (err) {
      if (!err.handled && this.state === 'unlocked') fill(this.list, loadError(err, () => this.loadPage()));
      return;
    }
    if (this.state !== 'unlocked') return;
    const known = new Set(this.entries.map((e) => e.id));
    for (const e of res.entries) if (!known.has(e.id)) this.entries.push(e);
    this.nextAfter = Number.isInteger(res.next_after) ? res.next_after : null;
    this.renderList();
  }

  lockNow() {
    post('/vault/lock').catch(() => {});
    this.lockLocal('You locked the vault.');
  }

  matches(e) {
    const q = this.filter.trim().toLowerCase();
    if (!q) return true;
    return [e.domain, e.account_name, e.url].some((v) => typeof v === 'string' && v.toLowerCase().includes(q));
  }

  renderList() {
    if (this.state !== 'unlocked') return;
    const shown = this.entries.filter((e) => this.matches(e));
    const total = this.entries.length;
    const more = this.nextAfter !== null;
    this.count.textContent = this.filter.trim()
      ? `${shown.length} of ${total}${more ? ' loaded' : ''} entries match.`
      : `${total}${more ? '+' : ''} ${total === 1 && !more ? 'entry' : 'entries'}`;
    if (!total) {
      fill(this.list, h('div', {class: 'card empty'},
        h('p', {}, 'Your vault is empty — add your first entry.'),
        h('button', {type: 'button', class: 'btn primary', onclick: () => this.entryDialog(null)}, icon('plus'), 'Add entry')));
    } else if (!shown.length) {
      fill(this.list, h('div', {class: 'card empty'}, h('p', {}, `No entries match “${this.filter.trim()}”.`)));
    } else {
      fill(this.list, h('ul', {class: 'list', 'aria-label': 'Vault entries'}, shown.map((e) => this.row(e))));
    }
    if (more) {
      const button = h('button', {type: 'button', class: 'btn'}, 'Load more');
      button.addEventListener('click', async () => {
        button.disabled = true;
        button.classList.add('busy');
        await this.loadPage();
      });
      fill(this.pager, h('span', {}, `${total} loaded`), button);
    } else {
      fill(this.pager);
    }
  }

  row(e) {
    const detailId = `entry-${e.id}`;
    const toggle = h('button', {type: 'button', class: 'entry-toggle', 'aria-expanded': 'false', 'aria-controls': detailId},
      h('span', {class: 'avatar', 'aria-hidden': 'true'}, (e.domain || '?').replace(/^www\./, '').slice(0, 1)),
      h('span', {class: 'grow'}, h('span', {class: 'title'}, e.domain), h('span', {class: 'meta'}, e.account_name)),
      icon('chevron-down'));
    const detail = h('div', {class: 'entry-detail', id: detailId, hidden: true});
    toggle.addEventListener('click', () => {
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(open));
      if (open) fill(detail, this.detail(e));
      else {
        this.hide(e.id);
        fill(detail);
      }
      detail.hidden = !open;
    });
    return h('li', {'data-entry': e.id}, toggle, detail);
  }

  detail(e) {
    const value = h('span', {class: 'value', 'aria-live': 'polite'}, MASK);
    const reveal = h('button', {type: 'button', class: 'btn small', 'aria-pressed': 'false'}, icon('eye'), 'Reveal');
    const copy = h('button', {type: 'button', class: 'btn small'}, icon('copy'), 'Copy');
    const edit = h('button', {type: 'button', class: 'btn small'}, icon('edit'), 'Edit');
    const remove = h('button', {type: 'button', class: 'btn small'}, icon('trash'), 'Delete');
    const hide = () => {
      value.textContent = MASK;
      reveal.setAttribute('aria-pressed', 'false');
      fill(reveal, icon('eye'), 'Reveal');
    };
    reveal.addEventListener('click', async () => {
      if (this.revealed.has(e.id)) {
        this.hide(e.id);
        return;
      }
      const secret = await this.secret(e.id);
      if (secret === null || !value.isConnected) return;
      value.textContent = secret;
      reveal.setAttribute('aria-pressed', 'true');
      fill(reveal, icon('eye-off'), 'Hide');
      this.revealed.set(e.id, {timer: setTimeout(() => this.hide(e.id), HIDE_AFTER_MS), hide});
    });
    copy.addEventListener('click', async () => {
      const secret = await this.secret(e.id);
      if (secret === null) return;
      try {
        await copySecret(secret);
        toast('Password copied. The clipboard is cleared in 30 seconds.', 'success');
      } catch {
        toast('The browser did not allow copying. Reveal the password and copy it by hand.', 'error');
      }
    });
    edit.addEventListener('click', () => this.entryDialog(e));
    remove.addEventListener('click', () => this.deleteEntry(e));
    return [
      h('dl', {class: 'facts'},
        h('dt', {}, 'Account'), h('dd', {}, e.account_name),
        h('dt', {}, 'Password'), h('dd', {}, h('div', {class: 'secret'}, value, reveal, copy)),
        e.url ? [h('dt', {}, 'URL'), h('dd', {}, externalLink(e.url))] : null,
        e.notes ? [h('dt', {}, 'Notes'), h('dd', {}, h('p', {class: 'notes'}, e.notes))] : null,
        h('dt', {}, 'Updated'), h('dd', {}, when(e.updated_at || e.created_at))),
      h('div', {class: 'form-actions'}, edit, remove),
    ];
  }

  hide(id) {
    const r = this.revealed.get(id);
    if (!r) return;
    clearTimeout(r.timer);
    this.revealed.delete(id);
    r.hide();
  }

  // The entry's password, fetched when asked for and never kept in this object.
  async secret(id) {
    try {
      const entry = await this.call(() => get(`/vault/entries/${id}`));
      return entry.pin_or_password;
    } catch (err) {
      if (!err.handled) toast(err.message, 'error');
      return null;
    }
  }

  async deleteEntry(e) {
    const yes = await confirmDialog({title: 'Delete this entry?', text: `${e.domain} — ${e.account_name}. This cannot be undone.`});
    if (!yes) return;
    try {
      await this.call(() => del(`/vault/entries/${e.id}`));
    } catch (err) {
      if (err.handled) return;
      if (err.status !== 404) {
        toast(err.message, 'error');
        return;
      }
    }
    this.hide(e.id);
    this.entries = this.entries.filter((x) => x.id !== e.id);
    this.renderList();
    toast('Entry deleted.', 'success');
  }

  dialog(title, content) {
    const d = openDialog(title, content, () => this.dialogs.delete(d));
    this.dialogs.add(d);
    return d;
  }

  // Add (entry null) or edit an entry in a dialog.
  async entryDialog(entry) {
    let current = null;
    if (entry) {
      try {
        current = await this.call(() => get(`/vault/entries/${entry.id}`));
      } catch (err) {
        if (!err.handled) toast(err.message, 'error');
        return;
      }
      if (this.state !== 'unlocked') return;
    }
    const v = current || {};
    const pw = passwordField({label: 'Password or PIN', name: 'pin_or_password', autocomplete: 'off', maxlength: 1024,
                              value: v.pin_or_password});
    const generate = h('button', {type: 'button', class: 'btn icon-only', 'aria-label': 'Generate a password', title: 'Generate'},
      icon('dice'));
    const pwInput = pw.querySelector('input');
    generate.addEventListener('click', () => {
      pwInput.value = generatePassword();
      pwInput.type = 'text';
      pwInput.focus();
    });
    pw.querySelector('.input-row').append(generate);
    const cancel = h('button', {type: 'button', class: 'btn'}, 'Cancel');
    const form = h('form', {},
      field({label: 'Site or app', name: 'domain', value: v.domain, autocomplete: 'off', maxlength: 255,
             hint: 'e.g. example.com'}),
      field({label: 'Account', name: 'account_name', value: v.account_name, autocomplete: 'off', maxlength: 255,
             hint: 'Your username or email there.'}),
      pw,
      field({label: 'URL (optional)', name: 'url', type: 'url', value: v.url, autocomplete: 'off', maxlength: 2048,
             placeholder: 'https://'}),
      field({label: 'Notes (optional)', name: 'notes', multiline: true, value: v.notes, autocomplete: 'off',
             maxlength: 10000, rows: 4}),
      h('div', {class: 'form-actions'}, submitButton(entry ? 'Save' : 'Add entry'), cancel));
    current = null;
    const d = this.dialog(entry ? `Edit ${entry.domain}` : 'Add an entry', form);
    cancel.addEventListener('click', d.close);
    onSubmit(form, async (values) => {
      const body = {domain: values.domain, account_name: values.account_name, pin_or_password: values.pin_or_password};
      if (values.url) body.url = values.url;
      if (values.notes) body.notes = values.notes;
      if (entry) {
        const saved = await this.call(() => put(`/vault/entries/${entry.id}`, body));
        delete saved.pin_or_password;
        this.hide(entry.id);
        Object.assign(entry, saved);
        toast('Entry saved.', 'success');
      } else {
        const res = await this.call(() => post('/vault/add', body));
        const now = new Date().toISOString();
        this.entries.push({id: res.id, domain: body.domain, account_name: body.account_name, url: body.url || '',
                           notes: body.notes || '', created_at: now, updated_at: now});
        toast('Entry added.', 'success');
      }
      d.close();
      this.renderList();
    });
  }

  changePasswordDialog() {
    const cancel = h('button', {type: 'button', class: 'btn'}, 'Cancel');
    const form = h('form', {},
      h('p', {class: 'lead'}, 'Your entries stay as they are; only the key that opens them is re-wrapped. ' +
                              'The vault locks afterwards, in every tab.'),
      passwordField({label: 'Current vault password', name: 'current_vault_password', autocomplete: 'off'}),
      passwordField({label: 'New vault password', name: 'new_vault_password', autocomplete: 'off', maxlength: 128,
                     hint: '12–128 characters, not a common password, not your account password.'}),
      passwordField({label: 'New vault password again', name: 'confirm', autocomplete: 'off', maxlength: 128}),
      h('div', {class: 'form-actions'}, submitButton('Change vault password'), cancel));
    const d = this.dialog('Change vault password', form);
    cancel.addEventListener('click', d.close);
    onSubmit(form, async ({current_vault_password, new_vault_password, confirm}) => {
      if (new_vault_password !== confirm) throw fieldError({confirm: 'The two new passwords differ.'});
      try {
        await this.call(() => post('/vault/change-password', {current_vault_password, new_vault_password}));
      } catch (err) {
        if (err.code === 'invalid_vault_password') err.fields = {current_vault_password: err.message, ...err.fields};
        throw err;
      }
      d.close();
      toast('Vault password changed.', 'success');
      this.lockLocal('Vault password changed. Unlock with the new one.');
    });
  }
}

// 20 characters from 71 symbols (about 123 bits), uniformly: bytes that would bias the choice are
// drawn again.
function generatePassword(length = 20) {
  const chars = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#$%&*+-=?@^_~';
  const limit = 256 - (256 % chars.length);
  let out = '';
  const buf = new Uint8Array(64);
  while (out.length < length) {
    crypto.getRandomValues(buf);
    for (const b of buf) if (b < limit && out.length < length) out += chars[b % chars.length];
  }
  return out;
}
