// Sessions (SPEC 4): every signed-in device, revoke one, or sign out everywhere.
import {del, get, post} from '../api.js';
import {emit} from '../bus.js';
import {confirmDialog, loadError, loading, toast} from '../components.js';
import {fill, h, icon} from '../dom.js';
import {device, when} from '../format.js';
import {signOut} from '../shell.js';

export function sessionsPage(main) {
  const everywhere = h('button', {type: 'button', class: 'btn danger'}, icon('logout'), 'Sign out everywhere');
  const list = h('div', {}, loading());
  main.append(
    h('div', {class: 'page-head'}, h('h1', {tabindex: '-1'}, 'Sessions'), h('div', {class: 'actions'}, everywhere)),
    h('p', {class: 'lead'}, 'Where your account is signed in. Revoke anything you do not recognise, then change your password.'),
    list);

  everywhere.addEventListener('click', async () => {
    const yes = await confirmDialog({title: 'Sign out everywhere?',
                                     text: 'Every session ends, this one too. You will need your password to sign in again.',
                                     confirm: 'Sign out everywhere'});
    if (!yes) return;
    try {
      await post('/auth/logout-all');
    } catch (err) {
      if (err.status !== 401) toast(err.message, 'error');
      return;
    }
    emit('signed-out', 'signed_out');
  });

  const row = (s) => {
    const revoke = h('button', {type: 'button', class: 'btn small'}, icon('logout'), s.current ? 'Sign out' : 'Revoke');
    revoke.addEventListener('click', async () => {
      if (s.current) {
        signOut();
        return;
      }
      const yes = await confirmDialog({title: 'Revoke this session?', text: `${device(s.user_agent)} at ${s.ip || 'an unknown address'} will be signed out at once.`, confirm: 'Revoke'});
      if (!yes) return;
      try {
        await del(`/auth/sessions/${encodeURIComponent(s.id)}`);
      } catch (err) {
        if (err.status !== 404) {
          toast(err.message, 'error');
          return;
        }
      }
      toast('Session revoked.', 'success');
      load();
    });
    return h('li', {},
      h('div', {class: 'row'},
        h('div', {class: 'grow'},
          h('p', {class: 'title', title: s.user_agent || ''}, icon('devices'), ' ', device(s.user_agent), ' ',
            s.current ? h('span', {class: 'badge'}, 'This device') : null),
          h('p', {class: 'meta'}, `IP ${s.ip || 'unknown'} · signed in ${when(s.created_at)} · last used ${when(s.last_used_at)}`)),
        h('div', {class: 'tools'}, revoke)));
  };

  const load = async () => {
    let sessions;
    try {
      sessions = (await get('/auth/sessions')).sessions;
    } catch (err) {
      fill(list, loadError(err, load));
      return;
    }
    sessions.sort((a, b) => Number(b.current) - Number(a.current));
    fill(list, h('ul', {class: 'list', 'aria-label': 'Signed-in sessions'}, sessions.map(row)));
  };
  load();
}
