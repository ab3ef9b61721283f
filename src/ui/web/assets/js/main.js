// Starts the interface: which page a path shows, and what happens when the session starts or ends.
import {get, hasSession, sessionReason, sessionStarted} from './api.js';
import {emit, on} from './bus.js';
import {clearClipboard} from './clipboard.js';
import {loadError} from './components.js';
import {fill, h, navLink} from './dom.js';
import {navigate, setLeaveGuard, start} from './router.js';
import {signedInFrame, signedOutFrame} from './shell.js';
import {linksPage} from './pages/links.js';
import {profilePage} from './pages/profile.js';
import {securityPage} from './pages/security.js';
import {sessionsPage} from './pages/sessions.js';
import {secondStepPage, signinPage} from './pages/signin.js';
import {signupPage} from './pages/signup.js';
import {vaultPage} from './pages/vault.js';

const HOME = '/ui/vault';
const PAGES = {
  '/ui/signin': {title: 'Sign in', mount: signinPage, signedOut: true},
  '/ui/signup': {title: 'Create account', mount: signupPage, signedOut: true},
  '/ui/signin/second-step': {title: 'Second step', mount: secondStepPage, signedOut: true},
  '/ui/vault': {title: 'Vault', mount: vaultPage},
  '/ui/profile': {title: 'Profile', mount: profilePage},
  '/ui/links': {title: 'Links', mount: linksPage},
  '/ui/sessions': {title: 'Sessions', mount: sessionsPage},
  '/ui/security': {title: 'Security', mount: securityPage},
};

let user = null;  // GET /personal/me of the signed-in user
let cleanup = null;
let next = null;  // where to go after signing in (in memory, never in the URL)
let shown = 0;  // counts renders: one that awaited while a newer one began gives way

function notFound(main) {
  main.append(h('div', {class: 'card empty'}, h('h1', {tabindex: '-1'}, 'Page not found'),
    h('p', {}, 'There is nothing at this address.'), navLink(HOME, {class: 'btn primary'}, 'Go to your vault')));
}

async function signedIn() {
  sessionStarted();
  user = await get('/personal/me');
  emit('signed-in');
  const target = next || HOME;
  next = null;
  navigate(target, {}, {replace: true});
}

async function render() {
  const mine = ++shown;
  if (cleanup) cleanup();
  cleanup = null;
  setLeaveGuard(null);
  const path = location.pathname.replace(/\/+$/, '') || '/';
  if (path === '/' || path === '/ui') {
    navigate(hasSession() ? HOME : '/ui/signin', {}, {replace: true});
    return;
  }
  const page = PAGES[path];
  const ctx = {state: history.state || {}, navigate, signedIn, get user() {
    return user;
  }};
  if (page && page.signedOut) {
    if (hasSession() && !ctx.state.reason) {
      // Already signed in (or a stale session that this check ends): skip the form.
      try {
        user = user || await get('/personal/me');
        if (mine === shown) navigate(HOME, {}, {replace: true});
        return;
      } catch (err) {
        // A dead session: the signed-out handler shows this page again, with the reason. Any other
        // failure: show the form anyway.
        if (err.status === 401 || mine !== shown) return;
      }
    }
    document.title = `${page.title} · strongroom`;
    const main = signedOutFrame();
    cleanup = page.mount(main, ctx) || null;
    focusHeading(main);
    return;
  }
  if (!user) {
    if (!hasSession()) {
      next = page ? path : null;
      navigate('/ui/signin', {}, {replace: true});
      return;
    }
    const main = signedOutFrame();
    main.append(h('p', {class: 'loading', role: 'status'}, 'Loading…'));
    try {
      user = await get('/personal/me');
    } catch (err) {
      if (err.status !== 401 && mine === shown) fill(main, loadError(err, render));
      return;  // on a 401 the signed-out handler takes over
    }
    if (mine !== shown) return;
  }
  document.title = `${page ? page.title : 'Not found'} · strongroom`;
  const main = signedInFrame(user);
  cleanup = (page ? page.mount(main, ctx) : notFound(main)) || null;
  focusHeading(main);
}

function focusHeading(main) {
  const heading = main.querySelector('h1');
  if (heading && !main.contains(document.activeElement)) heading.focus({preventScroll: true});
}

on('signed-out', ({reason, remote}) => {
  clearClipboard();
  user = null;
  if (cleanup) cleanup();
  cleanup = null;
  setLeaveGuard(null);
  const text = remote && reason === 'signed_out' ? 'You signed out in another tab.' : sessionReason(reason);
  navigate('/ui/signin', {reason: text}, {replace: true});
});
on('signed-in', ({remote}) => {
  sessionStarted();
  if (remote && location.pathname.startsWith('/ui/sign')) navigate(HOME, {}, {replace: true});
});
on('vault-locked', () => clearClipboard());

start(render);
