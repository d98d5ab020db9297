// Live validation: the server's verdict on the current diagram, drawn on the elements it
// names (a marker class + an overlay badge) and listed under the canvas.

import { el, t } from "./analyst-util.js";

const OVERLAY = "potok-problem";

export class ProblemsView {
  constructor(modeler, { list, state }) {
    this.canvas = modeler.get("canvas");
    this.overlays = modeler.get("overlays");
    this.registry = modeler.get("elementRegistry");
    this.selection = modeler.get("selection");
    this.list = list;
    this.state = state;
    this.byElement = new Map();
    this.marked = [];
  }

  /** Problems of one element, for the properties panel. */
  of(elementId) {
    return this.byElement.get(elementId) || [];
  }

  checking() {
    this.state.dataset.state = "checking";
    this.state.textContent = t("Checking…");
  }

  failed() {
    this.state.dataset.state = "unknown";
    this.state.textContent = t("Could not check the diagram");
  }

  clear() {
    this.overlays.remove({ type: OVERLAY });
    for (const [id, cls] of this.marked) {
      if (this.registry.get(id)) this.canvas.removeMarker(id, cls);
    }
    this.marked = [];
    this.byElement = new Map();
  }

  show({ errors = [], warnings = [] }) {
    this.clear();
    const issues = [
      ...errors.map((i) => ({ ...i, kind: "error" })),
      ...warnings.map((i) => ({ ...i, kind: "warning" })),
    ];
    for (const issue of issues) {
      if (!issue.element_id) continue;
      const list = this.byElement.get(issue.element_id) || [];
      list.push(issue);
      this.byElement.set(issue.element_id, list);
    }
    for (const [id, found] of this.byElement) this.mark(id, found);
    this.renderList(issues);
    this.renderState(errors.length, warnings.length);
  }

  mark(id, found) {
    const element = this.registry.get(id);
    if (!element || element === this.canvas.getRootElement()) return;
    const isError = found.some((i) => i.kind === "error");
    const cls = isError ? "potok-invalid" : "potok-warning";
    this.canvas.addMarker(id, cls);
    this.marked.push([id, cls]);
    const badge = el(`div.problem-badge.${isError ? "is-error" : "is-warning"}`, { dataset: { elementId: id } },
      el("span.problem-icon", { "aria-hidden": "true", text: isError ? "!" : "?" }),
      el("div.problem-text", {}, found.map((i) => el("p", { text: i.msg }))));
    const position = element.waypoints ? { top: -10, left: -10 } : { top: -11, right: 11 };
    this.overlays.add(id, OVERLAY, { position, html: badge });
  }

  renderList(issues) {
    const items = issues.map((issue) => {
      const known = issue.element_id && this.registry.get(issue.element_id);
      const where = issue.element_id ? el("code", { text: issue.element_id }) : el("span.muted", { text: issue.file || "" });
      const item = el(`li.problem.problem-${issue.kind}`, {},
        el("span.problem-kind", { text: issue.kind === "error" ? t("Error") : t("Warning") }),
        where, issue.line ? el("span.muted", { text: ` · ${t("line")} ${issue.line}` }) : null,
        el("span.problem-msg", { text: issue.msg }));
      if (known) {
        item.tabIndex = 0;
        item.classList.add("is-link");
        const go = () => {
          this.selection.select(known);
          this.canvas.scrollToElement(known);
        };
        item.addEventListener("click", go);
        item.addEventListener("keydown", (event) => { if (event.key === "Enter") go(); });
      }
      return item;
    });
    this.list.replaceChildren(...(items.length ? items : [el("li.problem.problem-none", { text: t("No problems: the diagram can be deployed.") })]));
  }

  renderState(errors, warnings) {
    this.state.dataset.state = errors ? "invalid" : "valid";
    if (errors) this.state.textContent = t("%(n)s problem(s)", { n: errors });
    else if (warnings) this.state.textContent = t("Valid · %(n)s warning(s)", { n: warnings });
    else this.state.textContent = t("Valid");
  }
}
