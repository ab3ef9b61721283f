// Copying secrets. What we put on the clipboard is taken off again after 30 seconds, or when the
// vault locks or the user signs out, but only while the clipboard still holds it: something the
// user copied since is left alone.
const CLEAR_AFTER_MS = 30000;

let pending = null;  // {text, timer}: our last copy, until it is cleared
let copiedSince = false;  // a copy or cut in this page after ours

document.addEventListener('copy', () => {
  copiedSince = true;
});
document.addEventListener('cut', () => {
  copiedSince = true;
});

export async function copySecret(text) {
  await navigator.clipboard.writeText(text);
  if (pending) clearTimeout(pending.timer);
  copiedSince = false;
  pending = {text, timer: setTimeout(clearClipboard, CLEAR_AFTER_MS)};
}

async function stillOurs(text) {
  try {
    return (await navigator.clipboard.readText()) === text;
  } catch {
    // Reading is not permitted: judge by what we could see of this page.
    return !copiedSince;
  }
}

// Clears the clipboard now if it still holds our copy, and forgets the copy either way.
export async function clearClipboard() {
  const p = pending;
  pending = null;
  if (!p) return;
  clearTimeout(p.timer);
  if (!(await stillOurs(p.text))) return;
  try {
    await navigator.clipboard.writeText('');
  } catch {
    // Writing needs the page to have focus: do it when it comes back (if still ours then).
    pending = p;
    window.addEventListener('focus', () => {
      if (pending === p) clearClipboard();
    }, {once: true});
  }
}
