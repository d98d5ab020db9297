// Read-only diagrams of the analyst pages: an instance with its done and active elements
// (kept live), and two versions of a process side by side with their differences.

import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css";
import "./analyst.css";

import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import { el, fitWithMargins, readJSON, request, t, toast } from "./analyst-util.js";

const POLL_MS = 1500;

function markAll(viewer, ids, cls) {
  const registry = viewer.get("elementRegistry");
  const canvas = viewer.get("canvas");
  for (const id of ids) if (registry.get(id)) canvas.addMarker(id, cls);
}

function clearMarkers(viewer, classes) {
  const canvas = viewer.get("canvas");
  viewer.get("elementRegistry").forEach((element) => {
    for (const cls of classes) canvas.removeMarker(element, cls);
  });
}

// --- instance -----------------------------------------------------------------------------

class InstanceView {
  constructor(container) {
    this.container = container;
    this.id = container.dataset.instanceId;
    this.viewer = new NavigatedViewer({ container });
    this.xml = null;
    this.marker = container.dataset.marker;
  }

  async load() {
    const response = await request(`/analyst/instances/${this.id}/diagram`);
    if (!response.ok) return;
    const diagram = response.body;
    if (diagram.xml !== this.xml) {
      await this.viewer.importXML(diagram.xml);
      this.xml = diagram.xml;
      fitWithMargins(this.viewer.get("canvas"), { left: 20, top: 20, right: 20, bottom: 30 });
    }
    this.paint(diagram);
  }

  paint({ completed, active: waiting, incidents }) {
    const viewer = this.viewer;
    const registry = viewer.get("elementRegistry");
    // An armed boundary event is not where the token is: its activity is.
    const active = waiting.filter((id) => registry.get(id) && registry.get(id).type !== "bpmn:BoundaryEvent");
    const overlays = viewer.get("overlays");
    clearMarkers(viewer, ["potok-done", "potok-active", "potok-incident"]);
    overlays.remove({ type: "potok-token" });
    const done = new Set(completed);
    const reached = new Set([...completed, ...active]);
    // A flow was taken when both its ends were reached (events record nodes, not flows).
    const flows = viewer.get("elementRegistry").filter((e) => e.waypoints && e.source && e.target
      && done.has(e.source.id) && reached.has(e.target.id));
    markAll(viewer, [...completed, ...flows.map((f) => f.id)], "potok-done");
    markAll(viewer, active, "potok-active");
    markAll(viewer, incidents || [], "potok-incident");
    for (const id of active) {
      overlays.add(id, "potok-token", {
        position: { top: -10, left: -10 },
        html: el("div.potok-token", { title: t("A token waits here"), dataset: { elementId: id } }),
      });
    }
    this.container.dataset.active = active.join(" ");
    this.container.dataset.painted = String(Date.now());
  }

  async poll() {
    const response = await request(`/analyst/instances/${this.id}/marker`);
    if (!response.ok) return true;
    const { marker, final } = response.body;
    if (marker !== this.marker) {
      this.marker = marker;
      await this.load();
      if (window.htmx) {
        window.htmx.ajax("GET", `/analyst/instances/${this.id}/details`, { target: "#instance-details", swap: "outerHTML" });
      }
    }
    return !final;
  }

  live() {
    const tick = async () => {
      let again = true;
      try {
        again = await this.poll();
      } catch (error) {
        again = true;
      }
      if (again) setTimeout(tick, POLL_MS);
    };
    setTimeout(tick, POLL_MS);
  }
}

// --- two versions -------------------------------------------------------------------------

async function compare(data) {
  const old = new NavigatedViewer({ container: "#diagram-old" });
  const neu = new NavigatedViewer({ container: "#diagram-new" });
  await Promise.all([old.importXML(data.old), neu.importXML(data.new)]);
  markAll(neu, data.diff.added, "potok-added");
  markAll(neu, data.diff.changed, "potok-changed");
  markAll(old, data.diff.changed, "potok-changed");
  markAll(old, data.diff.removed, "potok-removed");
  for (const viewer of [old, neu]) fitWithMargins(viewer.get("canvas"), { left: 16, top: 16, right: 16, bottom: 16 });
  syncViewboxes(old, neu);
  document.querySelectorAll("#diff-list tr[data-element-id]").forEach((row) => {
    row.tabIndex = 0;
    const focus = () => {
      for (const viewer of [old, neu]) {
        const element = viewer.get("elementRegistry").get(row.dataset.elementId);
        if (element) viewer.get("canvas").scrollToElement(element);
      }
    };
    row.addEventListener("click", focus);
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") focus(); });
  });
  window.potokCompare = { old, neu };
  document.body.dataset.compareReady = "true";
}

function syncViewboxes(a, b) {
  let busy = false;
  const follow = (from, to) => from.get("eventBus").on("canvas.viewbox.changed", ({ viewbox }) => {
    if (busy) return;
    busy = true;
    to.get("canvas").viewbox({ x: viewbox.x, y: viewbox.y, width: viewbox.width, height: viewbox.height });
    busy = false;
  });
  follow(a, b);
  follow(b, a);
}

// --- incidents page -----------------------------------------------------------------------

function incidentFeedback() {
  document.body.addEventListener("potok-flash", (event) => {
    const code = event.detail && event.detail.value;
    toast(code === "incident_resolved" ? t("This incident was already resolved.")
      : code === "retry_unavailable" ? t("This incident cannot be retried any more.")
        : t("The retry did not start."), "error");
  });
  document.body.addEventListener("htmx:responseError", () => toast(t("The server refused the request."), "error"));
}

document.addEventListener("DOMContentLoaded", async () => {
  incidentFeedback();
  const diagram = document.getElementById("instance-diagram");
  if (diagram) {
    const view = new InstanceView(diagram);
    window.potokInstance = view;
    await view.load();
    document.body.dataset.viewerReady = "true";
    if (diagram.dataset.final !== "true") view.live();
  }
  const data = readJSON("compare-data");
  if (data) await compare(data);
});
