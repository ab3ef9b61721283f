// The frame of the signed-in pages: top bar (product, navigation, the user's menu) and <main>. The
// signed-out pages get a centred card instead.
import {post} from './api.js';
import {emit} from './bus.js';
import {toast} from './components.js';
import {fill, h, icon, navLink} from './dom.js';

const NAV = [
  ['/ui/vault', 'Vault'],
  ['/ui/profile', 'Profile'],
  ['/ui/links', 'Links'],
  ['/ui/sessions', 'Sessions'],
  ['/ui/security', 'Security'],
];

let frame = null;  // {root, main, nav, username, listeners}

export async function signOut() {
  try {
    await post('/auth/logout');
  } catch (err) {
    if (err.status !== 401) {
      toast(err.message, 'error');
      return;
    }
  }
  emit('signed-out', 'signed_out');
}

function disclosure(button, panel, signal) {
  const set = (open) => {
    button.setAttribute('aria-expanded', String(open));
    panel.hidden = !open;
    if (panel.classList.contains('nav')) {
      panel.hidden = false;
      panel.classList.toggle('open', open);
    }
  };
  button.addEventListener('click', () => set(button.getAttribute('aria-expanded') !== 'true'));
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && button.getAttribute('aria-expanded') === 'true') {
      set(false);
      button.focus();
    }
  }, {signal});
  document.addEventListener('click', (e) => {
    if (!button.contains(e.target) && !panel.contains(e.target)) set(false);
  }, {signal});
  panel.addEventListener('click', (e) => {
    if (e.target.closest('a, button')) set(false);
  });
  return set;
}

function build(user) {
  const nav = h('ul', {class: 'nav', id: 'nav'},
    NAV.map(([path, label]) => h('li', {}, navLink(path, {}, label))));
  const toggle = h('button', {type: 'button', class: 'btn ghost menu-toggle', 'aria-controls': 'nav',
                              'aria-expanded': 'false'}, icon('menu'), 'Menu');
  const who = h('span', {class: 'who'}, user.username);
  const menuButton = h('button', {type: 'button', class: 'btn ghost', 'aria-expanded': 'false',
                                  'aria-controls': 'usermenu', 'aria-haspopup': 'true'},
    icon('user'), who, icon('chevron-down'));
  const popup = h('div', {class: 'popup', id: 'usermenu', hidden: true},
    h('p', {}, 'Signed in as ', h('strong', {}, user.username)),
    navLink('/ui/security', {}, icon('shield'), 'Security'),
    h('button', {type: 'button', onclick: signOut}, icon('logout'), 'Sign out'));
  const listeners = new AbortController();  // the document-wide ones go with this frame
  disclosure(toggle, nav, listeners.signal);
  disclosure(menuButton, popup, listeners.signal);
  const main = h('main', {id: 'main', class: 'wrap', tabindex: '-1'});
  const root = h('div', {},
    h('header', {class: 'topbar'},
      h('div', {class: 'wrap'},
        navLink('/ui/vault', {class: 'brand'}, h('img', {src: '/ui/assets/icons/logo.svg', alt: ''}), 'strongroom'),
        toggle, nav, h('div', {class: 'usermenu'}, menuButton, popup))),
    main);
  return {root, main, nav, username: user.username, listeners};
}

// The <main> of the signed-in frame, built once per user.
export function signedInFrame(user) {
  const app = document.getElementById('app');
  if (!frame || frame.username !== user.username || !app.contains(frame.root)) {
    if (frame) frame.listeners.abort();
    frame = build(user);
    fill(app, frame.root);
  }
  for (const a of frame.nav.querySelectorAll('a')) {
    if (location.pathname.startsWith(a.pathname)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  fill(frame.main);
  return frame.main;
}

// A centred card for the signed-out pages.
export function signedOutFrame() {
  if (frame) frame.listeners.abort();
  frame = null;
  const main = h('main', {id: 'main', class: 'auth-page', tabindex: '-1'});
  fill(document.getElementById('app'), main);
  main.append(navLink('/ui/signin', {class: 'brand'}, h('img', {src: '/ui/assets/icons/logo.svg', alt: ''}), 'strongroom'));
  return main;
}
