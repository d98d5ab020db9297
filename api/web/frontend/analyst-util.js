// Small helpers shared by the modeler and the viewers: DOM building, i18n, fetch with CSRF.

let strings = null;

/** The translated text of an English message (the page embeds the catalogue as JSON). */
export function t(message, params = {}) {
  if (strings === null) {
    const node = document.getElementById("analyst-i18n");
    strings = node ? JSON.parse(node.textContent) : {};
  }
  const text = strings[message] || message;
  return text.replace(/%\((\w+)\)s/g, (_, name) => (name in params ? String(params[name]) : ""));
}

/** Create an element: el("div.card#id", {attrs, on: {click}}, children...). */
export function el(spec, props = {}, ...children) {
  const [tagAndId, ...classes] = spec.split(".");
  const [tag, id] = tagAndId.split("#");
  const node = document.createElement(tag || "div");
  if (id) node.id = id;
  if (classes.length) node.className = classes.join(" ");
  let initial;
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "value") {
      initial = value; // set after the children: a <select> needs its options first
    } else if (key === "on") {
      for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (key === "text") {
      node.textContent = value;
    } else if (key in node && typeof value !== "string") {
      node[key] = value;
    } else {
      node.setAttribute(key, value === true ? "" : value);
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  if (initial !== undefined) node.value = initial;
  return node;
}

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/** fetch() with the session's CSRF header; resolves to {status, body} (body parsed if JSON). */
export async function request(url, options = {}) {
  const headers = { "X-CSRF-Token": csrfToken(), Accept: "application/json", ...(options.headers || {}) };
  const response = await fetch(url, { credentials: "same-origin", ...options, headers });
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  return { status: response.status, ok: response.ok, body };
}

export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

/** A short message at the bottom of the screen (role=status, so screen readers hear it). */
export function toast(message, kind = "ok") {
  let box = document.getElementById("analyst-toast");
  if (!box) {
    box = el("div#analyst-toast.analyst-toast", { role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  const item = el(`div.toast.toast-${kind}`, {}, message);
  box.append(item);
  setTimeout(() => item.classList.add("is-leaving"), 4500);
  setTimeout(() => item.remove(), 5000);
}

export function readJSON(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

/** Zoom so the whole diagram shows, with `margin` screen pixels kept clear on each side. */
export function fitWithMargins(canvas, margin) {
  canvas.resized();
  canvas.zoom("fit-viewport", "auto");
  const box = canvas.viewbox();
  const scale = Math.min(box.scale || 1, 1); // never blow a small diagram up
  const { inner, outer } = box;
  const width = Math.max(inner.width + (margin.left + margin.right) / scale, outer.width / scale);
  const height = Math.max(inner.height + (margin.top + margin.bottom) / scale, outer.height / scale);
  // Centre what fits with room to spare, but never closer to an edge than its margin.
  const left = Math.max(margin.left / scale, (width - inner.width) / 2);
  const top = Math.max(margin.top / scale, (height - inner.height) / 2);
  canvas.viewbox({ x: inner.x - left, y: inner.y - top, width, height });
}
