// The one place that talks to the server: fetch, the CSRF header, the shared refresh of the access
// token, and turning every error into words.
//
// Credentials live in the server's cookies only. The access and refresh tokens are HttpOnly; the
// access token's CSRF cookie is readable by design (double submit) and is read here when needed,
// never copied anywhere. Nothing goes to localStorage, sessionStorage or a URL.
//
// Refresh (docs/ui.md): the access cookie and its CSRF cookie share one lifetime, so a missing
// csrf_access_token means the access token is gone. Then, or on a 401 that a refresh can cure, the
// tab takes the Web Lock "strongroom-refresh" (one holder per browser, across tabs). Holding it, it
// reads the access CSRF cookie again: if a new one appeared since this tab sent its request, another
// tab has already rotated the tokens and this one simply retries with the new cookies; otherwise it
// asks GET /auth/csrf for the refresh token's CSRF value (its cookie has Path /auth, SPEC 4, so no
// page can read it) and calls POST /auth/refresh with it. The server treats a second use of a spent
// refresh token as theft and ends the session, so two tabs must never send the same one: the lock
// makes sure they do not.
import {emit, on} from './bus.js';

const CSRF_ACCESS = ['__Host-csrf_access_token', 'csrf_access_token'];
const CSRF_REFRESH = ['__Secure-csrf_refresh_token', 'csrf_refresh_token'];
// A hint of this interface's own, not a credential (the server ignores it): a session was started
// in this browser and not seen to end. The refresh token's cookies cannot tell, as no page can read
// them, and asking the server on every visit would cost a signed-out visitor a 401 each time.
const HINT = 'strongroom_ui_session';
const HINT_DAYS = 30;  // session_max_ttl's default; a hint that outlives its session costs one 401
const SESSION_CODES = new Set(['unauthorized', 'token_expired', 'token_revoked', 'token_reused']);
const LOCK = 'strongroom-refresh';

function readCookie(names) {
  const jar = document.cookie ? document.cookie.split('; ') : [];
  for (const name of names) {
    for (const pair of jar) {
      const eq = pair.indexOf('=');
      if (pair.slice(0, eq) === name) return pair.slice(eq + 1);
    }
  }
  return '';
}

function secure() {
  return location.protocol === 'https:' ? '; Secure' : '';
}

// True when this browser holds a session that may still be alive (no request needed to know).
export function hasSession() {
  return Boolean(readCookie(CSRF_ACCESS) || readCookie([HINT]));
}

// A dead session's readable cookies are removed so that the next page load does not try it again
// (the HttpOnly token cookies are useless without them and expire by themselves).
function forgetSession() {
  for (const name of [...CSRF_ACCESS, HINT]) {
    document.cookie = `${name}=; Path=/; Max-Age=0; SameSite=Strict${secure()}`;
  }
  for (const name of CSRF_REFRESH) {
    if (!name.startsWith('__Secure-') || secure()) document.cookie = `${name}=; Path=/auth; Max-Age=0; SameSite=Strict${secure()}`;
  }
}

// However a session ends (sign out, account deleted, ended by the server), its hint goes with it.
on('signed-out', () => forgetSession());

function rememberSession() {
  document.cookie = `${HINT}=1; Path=/; Max-Age=${HINT_DAYS * 86400}; SameSite=Strict${secure()}`;
}

export class ApiError extends Error {
  constructor(status, body, headers) {
    super(describe(status, body, headers));
    this.name = 'ApiError';
    this.status = status;
    this.code = (body && body.code) || (status === 0 ? 'network' : 'unknown');
    this.fields = (body && body.fields) || {};
  }
}

function seconds(n) {
  if (n < 60) return `${n} second${n === 1 ? '' : 's'}`;
  const m = Math.ceil(n / 60);
  return `${m} minute${m === 1 ? '' : 's'}`;
}

// The words shown for an error: the server's own message, except where the status says more.
function describe(status, body, headers) {
  if (status === 0) return 'Cannot reach strongroom. Check your connection and try again.';
  if (status === 429) {
    const after = Number.parseInt((headers && headers.get('Retry-After')) || '', 10);
    return Number.isFinite(after) && after > 0
      ? `Too many attempts. Please try again in ${seconds(after)}.`
      : 'Too many attempts. Please wait a moment and try again.';
  }
  if (status === 503) return 'strongroom is busy right now. Please try again in a moment.';
  if (body && typeof body.error === 'string' && body.error) return body.error;
  const id = headers && headers.get('X-Request-ID');
  return `Something went wrong (HTTP ${status})${id ? `; reference ${id}` : ''}. Please try again.`;
}

// Why a session ended, in the words the Sign in page shows.
export function sessionReason(code) {
  switch (code) {
    case 'token_revoked':
      return 'Your session was ended (signed out from another device, or your password changed). Please sign in again.';
    case 'token_reused':
      return 'For your safety your session was ended: a sign-in token was used twice. Please sign in again.';
    case 'signed_out':
      return 'You have signed out.';
    case 'account_deleted':
      return 'Your account was deleted.';
    default:
      return 'Your session has expired. Please sign in again.';
  }
}

let ended = false;
// Called once per dead session: tells every tab, which go to Sign in with the reason.
function sessionEnded(code) {
  forgetSession();
  if (!ended) {
    ended = true;
    emit('signed-out', code);
  }
}
export function sessionStarted() {
  ended = false;
  rememberSession();
}

async function send(method, path, body) {
  const headers = {Accept: 'application/json'};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') {
    const csrf = readCookie(CSRF_ACCESS);
    if (csrf) headers['X-CSRF-TOKEN'] = csrf;
  }
  try {
    return await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'error',
    });
  } catch {
    return null;
  }
}

async function parse(res) {
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  if (!type.startsWith('application/json')) return null;
  try {
    return await res.json();
  } catch {
    return null;
  }
}

let refreshing = null;  // this tab's refresh in flight, shared by its concurrent requests
let refreshFailure = '';

// A 429, a 5xx or no answer is not the session's fault: the session is kept, and the failure
// reported as it is.
async function notTheSession(res) {
  if (!res || res.status === 429 || res.status >= 500) {
    throw new ApiError(res ? res.status : 0, res ? await parse(res) : null, res && res.headers);
  }
  refreshFailure = ((await parse(res)) || {}).code || 'unauthorized';
  return false;
}

// Resolves true when fresh cookies are in place (by this tab or another), false when the session
// cannot be refreshed (refreshFailure then holds the code). `seen`: the access CSRF cookie as it was
// when the caller's request was sent.
function refresh(seen) {
  if (refreshing) return refreshing;
  const run = async () => {
    if (!hasSession()) {
      refreshFailure = 'token_expired';
      return false;
    }
    const current = readCookie(CSRF_ACCESS);
    if (current && current !== seen) return true;  // another tab refreshed
    // Bounded, since every tab waits for this one: a hung request must not hold the lock.
    const ask = (method, headers) => fetch(method === 'GET' ? '/auth/csrf' : '/auth/refresh', {
      method,
      headers: {Accept: 'application/json', ...headers},
      credentials: 'same-origin',
      cache: 'no-store',
      signal: AbortSignal.timeout(20000),
    }).catch(() => null);
    const res = await ask('GET', {});
    if (!res || !res.ok) return notTheSession(res);
    const token = ((await parse(res)) || {}).csrf_token;
    if (typeof token !== 'string' || !token) throw new ApiError(res.status, null, res.headers);
    const done = await ask('POST', {'X-CSRF-TOKEN': token});
    if (!done || !done.ok) return notTheSession(done);
    rememberSession();
    return true;
  };
  const locked = navigator.locks ? navigator.locks.request(LOCK, run) : run();
  refreshing = locked.finally(() => {
    refreshing = null;
  });
  return refreshing;
}

// Events of this tab's API traffic (e.g. "vault-renewed" when the server slid the vault session).
export const traffic = new EventTarget();

// api('GET', '/personal/me') -> the parsed body (null for 204). Throws ApiError.
// options.anonymous: the route needs no session (signin, signup, the second step).
// options.raw: resolve to {data, headers} instead.
export async function api(method, path, body, options = {}) {
  const anonymous = Boolean(options.anonymous);
  if (!anonymous && !readCookie(CSRF_ACCESS)) {
    // The access token has expired with its CSRF cookie: refresh before asking.
    if (!(await refresh(undefined))) {
      sessionEnded(refreshFailure);
      throw new ApiError(401, {code: refreshFailure, error: sessionReason(refreshFailure)});
    }
  }
  const seen = readCookie(CSRF_ACCESS);
  let res = await send(method, path, body);
  let data = res ? await parse(res) : null;
  if (res && res.status === 401 && !anonymous && data && (data.code === 'unauthorized' || data.code === 'token_expired')) {
    if (await refresh(seen)) {
      res = await send(method, path, body);
      data = res ? await parse(res) : null;
    } else {
      data = {code: refreshFailure, error: sessionReason(refreshFailure)};
    }
  }
  if (!res) throw new ApiError(0, null, null);
  if (!res.ok) {
    if (res.status === 401 && !anonymous && data && SESSION_CODES.has(data.code)) sessionEnded(data.code);
    throw new ApiError(res.status, data, res.headers);
  }
  if (res.headers.get('X-Vault-Token')) traffic.dispatchEvent(new Event('vault-renewed'));
  return options.raw ? {data, headers: res.headers} : data;
}

export const get = (path, options) => api('GET', path, undefined, options);
export const post = (path, body, options) => api('POST', path, body, options);
export const put = (path, body, options) => api('PUT', path, body, options);
export const del = (path, options) => api('DELETE', path, undefined, options);
