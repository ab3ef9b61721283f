// A small router over the History API: paths under /ui/ name pages; links marked data-nav and
// navigate() change the page without reloading; nothing secret ever goes into a URL (a reason to
// show travels in history.state).
let renderer = null;
let leaving = null;  // the current page's canLeave(), if it wants to be asked

export function setLeaveGuard(fn) {
  leaving = fn;
}

async function mayLeave() {
  if (!leaving) return true;
  const ok = await leaving();
  if (ok) leaving = null;
  return ok;
}

export async function navigate(path, state = {}, {replace = false} = {}) {
  if (!(await mayLeave())) return;
  if (replace) history.replaceState(state, '', path);
  else history.pushState(state, '', path);
  renderer();
}

export function start(render) {
  renderer = render;
  document.addEventListener('click', (event) => {
    const a = event.target.closest && event.target.closest('a[data-nav]');
    if (!a || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    // The current page's own link shows it afresh (its data loaded again).
    navigate(a.pathname, {}, {replace: a.pathname === location.pathname});
  });
  let shown = location.pathname;
  window.addEventListener('popstate', async () => {
    const target = location.pathname;
    if (leaving) {
      // Back/forward cannot be cancelled: go back to where we were, then ask.
      history.pushState(history.state, '', shown);
      if (!(await mayLeave())) return;
      history.replaceState({}, '', target);
    }
    shown = target;
    renderer();
  });
  window.addEventListener('beforeunload', (event) => {
    if (leaving) event.preventDefault();
  });
  const original = renderer;
  renderer = () => {
    shown = location.pathname;
    return original();
  };
  renderer();
}
