// Profile: who you are, and the handbook (SPEC 5) with the API's bounds as hints.
import {get, put} from '../api.js';
import {field, loadError, loading, onSubmit, submitButton, toast} from '../components.js';
import {day, when} from '../format.js';
import {fill, h} from '../dom.js';

const FIELDS = ['full_name', 'age', 'phone', 'address', 'bio'];

export function profilePage(main) {
  const head = h('div', {class: 'page-head'}, h('h1', {tabindex: '-1'}, 'Profile'));
  const body = h('div', {}, loading());
  main.append(head, body);

  const load = async () => {
    fill(body, loading());
    let me;
    try {
      me = await get('/personal/me');
    } catch (err) {
      fill(body, loadError(err, load));
      return;
    }
    fill(body, account(me), handbook(me.handbook));
  };
  load();
}

function account(me) {
  return h('section', {class: 'card', 'aria-labelledby': 'acct-title'},
    h('h2', {id: 'acct-title'}, 'Account'),
    h('dl', {class: 'facts'},
      h('dt', {}, 'Username'), h('dd', {}, me.username),
      h('dt', {}, 'Email'), h('dd', {}, me.email),
      h('dt', {}, 'Member since'), h('dd', {}, day(me.created_at))));
}

function handbook(hb) {
  const v = hb || {};
  const updated = h('p', {class: 'meta'}, hb && hb.updated_at ? `Last saved ${when(hb.updated_at)}.` : 'Not filled in yet.');
  const form = h('form', {class: 'card', 'aria-labelledby': 'hb-title'},
    h('h2', {id: 'hb-title'}, 'Handbook'),
    h('p', {class: 'lead'}, 'Optional details about you. Leave a field empty to clear it.'),
    h('div', {class: 'grid-2'},
      field({label: 'Full name', name: 'full_name', value: v.full_name, autocomplete: 'name', maxlength: 100,
             hint: 'Up to 100 characters.'}),
      field({label: 'Age', name: 'age', value: v.age, inputmode: 'numeric', maxlength: 3,
             hint: 'A whole number from 13 to 120.'}),
      field({label: 'Phone', name: 'phone', type: 'tel', value: v.phone, autocomplete: 'tel', maxlength: 20,
             hint: 'Up to 20 of 0–9, space, + ( ) -.'}),
      field({label: 'Address', name: 'address', value: v.address, autocomplete: 'street-address', maxlength: 255,
             hint: 'Up to 255 characters.'})),
    field({label: 'Bio', name: 'bio', multiline: true, value: v.bio, maxlength: 2000, rows: 5,
           hint: 'Up to 2000 characters; several lines are fine.'}),
    h('div', {class: 'form-actions'}, submitButton('Save handbook'), updated));
  onSubmit(form, async (values) => {
    const body = {};
    for (const name of FIELDS) {
      const raw = values[name];
      if (raw === undefined || raw === '') body[name] = null;
      else if (name === 'age') body.age = /^\s*-?\d{1,9}\s*$/.test(raw) ? Number(raw) : raw;  // else the API says why
      else body[name] = raw;
    }
    const saved = await put('/personal/handbook', body);
    updated.textContent = `Last saved ${when(saved.updated_at)}.`;
    toast('Handbook saved.', 'success');
  });
  return form;
}
