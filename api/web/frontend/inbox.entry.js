// Keyboard and live-list behaviour of the task inbox and the task page.
// j/k or arrows move, Enter opens, c claims, u gives back, Ctrl+Enter completes,
// / searches, 1-3 switch tabs, Esc goes back, ? shows the shortcuts.

const EDITABLE = "input, textarea, select, [contenteditable='true']";
let selectedId = null;
const seen = new Set();

function rows() {
  return Array.from(document.querySelectorAll("#task-list tr.task-row"));
}

function select(row) {
  rows().forEach((r) => r.classList.toggle("is-selected", r === row));
  selectedId = row ? row.dataset.taskId : null;
  if (row) row.scrollIntoView({ block: "nearest" });
}

function selectedRow() {
  return rows().find((r) => r.dataset.taskId === selectedId) || null;
}

function move(step) {
  const list = rows();
  if (!list.length) return;
  const at = list.indexOf(selectedRow());
  const next = at < 0 ? 0 : Math.min(list.length - 1, Math.max(0, at + step));
  select(list[next]);
}

function submit(form) {
  if (!form) return false;
  if (form.requestSubmit) form.requestSubmit();
  else form.submit();
  return true;
}

function onInboxKey(event) {
  const key = event.key;
  if (key === "j" || key === "ArrowDown") move(1);
  else if (key === "k" || key === "ArrowUp") move(-1);
  else if (key === "Enter" || key === "o") {
    const row = selectedRow();
    if (!row) return false;
    window.location.assign(row.dataset.href);
  } else if (key === "c") {
    const row = selectedRow();
    return submit(row && row.querySelector("form.claim-form"));
  } else if (key === "/") {
    const search = document.getElementById("q");
    if (!search) return false;
    search.focus();
    search.select();
  } else if (["1", "2", "3"].includes(key)) {
    const tab = document.querySelector(`.tabs a[data-key="${key}"]`);
    if (!tab) return false;
    window.location.assign(tab.href);
  } else return false;
  return true;
}

function onTaskKey(event) {
  const key = event.key;
  if (key === "c") return submit(document.getElementById("claim-form"));
  if (key === "u") return submit(document.getElementById("unclaim-form"));
  if (key === "Escape") {
    window.location.assign("/inbox");
    return true;
  }
  return false;
}

function onKey(event) {
  const page = document.body.dataset.page;
  const inField = event.target.closest && event.target.closest(EDITABLE);
  if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
    if (submit(document.getElementById("task-form"))) event.preventDefault();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (inField) {
    if (event.key === "Escape") event.target.blur();
    return;
  }
  if (event.key === "?") {
    const help = document.getElementById("shortcuts");
    if (help && !help.open) help.showModal();
    event.preventDefault();
    return;
  }
  const handled = page === "inbox" ? onInboxKey(event) : page === "task" ? onTaskKey(event) : false;
  if (handled) event.preventDefault();
}

function onRowClick(event) {
  if (event.target.closest("a, button, form, input, select, textarea")) return;
  const row = event.target.closest("tr.task-row");
  if (row) window.location.assign(row.dataset.href);
}

function afterListSwap() {
  const list = rows();
  const firstLoad = seen.size === 0;
  list.forEach((row) => {
    if (!firstLoad && !seen.has(row.dataset.taskId)) row.classList.add("is-new");
    seen.add(row.dataset.taskId);
  });
  select(selectedRow() || list[0] || null);
}

function focusFirstError() {
  const broken = document.querySelector(".field.has-error input, .field.has-error select, .field.has-error textarea");
  if (broken) broken.focus();
}

function setLive(on) {
  document.body.classList.toggle("sse-open", on);
  const state = document.getElementById("live-state");
  if (state) state.classList.toggle("is-live", on);
}

document.addEventListener("DOMContentLoaded", () => {
  document.addEventListener("keydown", onKey);
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-action='help']")) {
      document.getElementById("shortcuts")?.showModal();
      return;
    }
    onRowClick(event);
  });
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "task-list") afterListSwap();
  });
  document.body.addEventListener("htmx:sseOpen", () => setLive(true));
  document.body.addEventListener("htmx:sseError", () => setLive(false));
  if (document.body.dataset.page === "inbox") afterListSwap();
  focusFirstError();
});
