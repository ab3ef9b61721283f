// Events inside this tab and across the tabs of this browser (BroadcastChannel): "signed-out",
// "signed-in", "vault-locked", "vault-unlocked". Messages carry a type and a short reason, never
// data or secrets.
const local = new EventTarget();
const channel = 'BroadcastChannel' in window ? new BroadcastChannel('strongroom') : null;

if (channel) {
  channel.addEventListener('message', (e) => {
    const {type, reason} = e.data || {};
    if (typeof type === 'string') local.dispatchEvent(new CustomEvent(type, {detail: {reason, remote: true}}));
  });
}

// Tells this tab and the others.
export function emit(type, reason = '') {
  local.dispatchEvent(new CustomEvent(type, {detail: {reason, remote: false}}));
  if (channel) channel.postMessage({type, reason});
}

export function on(type, fn) {
  const handler = (e) => fn(e.detail);
  local.addEventListener(type, handler);
  return () => local.removeEventListener(type, handler);
}
