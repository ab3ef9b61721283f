// Building the DOM. Text is always set as text (never parsed as HTML), so a value from the server
// cannot become markup; no style attribute is ever written (the CSP forbids inline styles).

// h('button', {class: 'btn', onclick: fn}, 'Save', icon('check')) -> <button class="btn">...
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key === 'style' || key === 'innerHTML') throw new Error(`h: ${key} is not allowed`);
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// Replaces the children of el.
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// One of our SVG icons (assets/icons/<name>.svg, drawn through a CSS mask).
export function icon(name) {
  return h('span', {class: `icon i-${name}`, 'aria-hidden': 'true'});
}

let counter = 0;
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

// A link into the interface, handled by the router without reloading the page.
export function navLink(path, attrs, ...children) {
  return h('a', {...attrs, href: path, 'data-nav': ''}, ...children);
}

// A link to a URL the user stored: only http(s) becomes a link (the API allows nothing else, and
// this keeps a javascript: URL from ever becoming clickable); it opens in a new tab without a
// referrer and without giving the page a handle on ours.
export function externalLink(url, text) {
  let ok = false;
  try {
    const u = new URL(url);
    ok = u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    ok = false;
  }
  if (!ok) return h('span', {class: 'mono'}, text || url);
  return h('a', {href: url, target: '_blank', rel: 'noopener noreferrer'}, text || url, ' ',
           icon('external'), h('span', {class: 'visually-hidden'}, '(opens in a new tab)'));
}
