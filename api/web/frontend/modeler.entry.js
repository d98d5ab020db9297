// The analyst's BPMN modeler: bpmn-js Modeler + potok's properties panel, live server
// validation drawn on the elements, deploy as a new version, XML download.

import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css";
import "./analyst.css";

import Modeler from "bpmn-js/lib/Modeler";
import { is } from "bpmn-js/lib/util/ModelUtil";
import spiffworkflow, { serializeExpressionsByProperty } from "./analyst-moddle.js";
import { PropertiesPanel } from "./analyst-panel.js";
import { ProblemsView } from "./analyst-validation.js";
import { FormEditor } from "./analyst-forms.js";
import { debounce, fitWithMargins, readJSON, request, t, toast } from "./analyst-util.js";

const VALIDATE_DELAY_MS = 500;
const FORM_PROPERTIES = ["formJsonSchemaFilename", "formUiSchemaFilename"];

function formProperty(bo, name) {
  const values = bo.extensionElements ? bo.extensionElements.get("values") : [];
  const props = values.find((v) => is(v, "spiffworkflow:Properties"));
  const found = props && props.get("property").find((p) => p.name === name);
  return found ? found.value : "";
}

class ModelerApp {
  constructor(config) {
    this.config = config;
    this.process = { ...config.process };
    this.forms = { ...config.process.forms };
    this.dirty = false;
    this.seq = 0;
    this.modeler = new Modeler({
      container: "#canvas",
      moddleExtensions: { spiffworkflow },
    });
    serializeExpressionsByProperty(this.modeler.get("moddle"));
    this.problems = new ProblemsView(this.modeler, {
      list: document.getElementById("problems-list"),
      state: document.getElementById("validation-state"),
    });
    this.panel = new PropertiesPanel(this.modeler, document.getElementById("properties"), {
      operators: config.operators,
      groups: config.groups,
      forms: () => this.availableForms(),
      openFormEditor: (element) => this.openFormEditor(element),
      problemsOf: (id) => this.problems.of(id),
    });
    this.formEditor = new FormEditor(document.getElementById("form-editor"), {
      forms: () => this.availableForms(),
      save: (schemaName, schemaText, uiName, uiText) => this.saveForm(schemaName, schemaText, uiName, uiText),
    });
    this.scheduleValidation = debounce(() => this.validate(), VALIDATE_DELAY_MS);
    this.wire();
  }

  get = (name) => this.modeler.get(name);

  availableForms() {
    return { ...this.config.forms, ...this.forms };
  }

  async open() {
    try {
      const { warnings } = await this.modeler.importXML(this.process.xml);
      if (warnings.length) console.warn("import warnings", warnings);
    } catch (error) {
      toast(t("The diagram could not be opened: %(e)s", { e: error.message }), "error");
      return;
    }
    this.fit();
    this.markClean();
    this.validate();
  }

  wire() {
    const eventBus = this.get("eventBus");
    eventBus.on("commandStack.changed", () => {
      this.dirty = true;
      this.renderToolbar();
      this.problems.checking(); // stale until the server answers
      this.scheduleValidation();
    });
    document.getElementById("deploy").addEventListener("click", () => this.deploy());
    document.getElementById("download").addEventListener("click", () => this.download());
    document.getElementById("undo").addEventListener("click", () => this.get("commandStack").undo());
    document.getElementById("redo").addEventListener("click", () => this.get("commandStack").redo());
    document.getElementById("fit").addEventListener("click", () => this.fit());
    const versions = document.getElementById("version-select");
    if (versions) versions.addEventListener("change", () => this.switchVersion(versions.value));
    window.addEventListener("beforeunload", (event) => {
      if (this.dirty) event.preventDefault();
    });
    document.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
        event.preventDefault();
        this.deploy();
      }
    });
  }

  /** The whole diagram in view, clear of the palette on the left. */
  fit() {
    fitWithMargins(this.get("canvas"), { left: 130, top: 24, right: 24, bottom: 24 });
  }

  markClean() {
    this.dirty = false;
    this.renderToolbar();
  }

  renderToolbar() {
    const stack = this.get("commandStack");
    document.getElementById("undo").disabled = !stack.canUndo();
    document.getElementById("redo").disabled = !stack.canRedo();
    const label = document.getElementById("version-label");
    label.textContent = this.process.version
      ? (this.dirty ? t("v%(v)s · edited", { v: this.process.version }) : `v${this.process.version}`)
      : t("not deployed");
    label.dataset.dirty = this.dirty ? "true" : "false";
  }

  switchVersion(version) {
    if (this.dirty && !window.confirm(t("Drop your changes and open version %(v)s?", { v: version }))) return;
    this.dirty = false;
    window.location.assign(`${this.config.urls.modeler}?key=${encodeURIComponent(this.process.key)}&version=${version}`);
  }

  // --- files ------------------------------------------------------------------------------

  referencedForms() {
    const names = new Set();
    this.get("elementRegistry").forEach((element) => {
      if (!is(element, "bpmn:UserTask")) return;
      for (const prop of FORM_PROPERTIES) {
        const name = formProperty(element.businessObject, prop);
        if (name) names.add(name);
      }
    });
    return names;
  }

  async files() {
    const { xml } = await this.modeler.saveXML({ format: true });
    const data = new FormData();
    data.append("files", new Blob([xml], { type: "application/xml" }), this.process.file);
    const forms = this.availableForms();
    for (const name of this.referencedForms()) {
      if (forms[name] !== undefined) data.append("files", new Blob([forms[name]], { type: "application/json" }), name);
    }
    for (const [name, text] of Object.entries(this.process.others || {})) {
      data.append("files", new Blob([text], { type: "application/xml" }), name);
    }
    return { data, xml };
  }

  // --- validate and deploy ----------------------------------------------------------------

  async validate() {
    const seq = ++this.seq;
    this.problems.checking();
    try {
      const { data } = await this.files();
      const response = await request(this.config.urls.validate, { method: "POST", body: data });
      if (seq !== this.seq) return null; // a newer check is under way
      if (!response.ok) throw new Error(response.status);
      this.problems.show(response.body);
      this.panel.refreshProblems();
      document.body.dataset.validated = String(seq);
      return response.body;
    } catch (error) {
      if (seq === this.seq) this.problems.failed();
      return null;
    }
  }

  async deploy() {
    this.scheduleValidation.cancel();
    const button = document.getElementById("deploy");
    button.disabled = true;
    button.dataset.busy = "true";
    try {
      const { data } = await this.files();
      const response = await request(this.config.urls.deploy, { method: "POST", body: data });
      this.afterDeploy(response);
      return response;
    } catch (error) {
      toast(t("Deploy failed: %(e)s", { e: error.message }), "error");
      return null;
    } finally {
      button.disabled = false;
      delete button.dataset.busy;
    }
  }

  afterDeploy(response) {
    const body = response.body || {};
    if (response.status === 422) {
      const details = (body.error && body.error.details) || [];
      this.problems.show({ errors: details, warnings: [] });
      this.panel.refreshProblems();
      toast(t("Not deployed: %(n)s problem(s) in the diagram.", { n: details.length }), "error");
      return;
    }
    if (!response.ok) {
      toast(t("Not deployed: %(e)s", { e: (body.error && body.error.message) || response.status }), "error");
      return;
    }
    const root = this.get("canvas").getRootElement().businessObject;
    const processId = is(root, "bpmn:Process") ? root.id : ((root.get("participants") || [])[0] || {}).processRef?.id;
    const mine = body.deployed.find((d) => d.key === processId) || body.deployed[0];
    const created = response.status === 201;
    this.process.key = mine.key;
    this.process.version = mine.version;
    this.addVersionOption(mine.version);
    this.markClean();
    document.body.dataset.deployedVersion = String(mine.version);
    history.replaceState(null, "", `${this.config.urls.modeler}?key=${encodeURIComponent(mine.key)}&version=${mine.version}`);
    toast(created ? t("Deployed: %(key)s version %(v)s.", { key: mine.key, v: mine.version })
      : t("Nothing changed: version %(v)s is current.", { v: mine.version }), "ok");
  }

  addVersionOption(version) {
    const select = document.getElementById("version-select");
    if (!select) return;
    if (![...select.options].some((o) => o.value === String(version))) {
      select.prepend(new Option(`v${version}`, String(version)));
    }
    select.value = String(version);
  }

  async download() {
    const { xml } = await this.modeler.saveXML({ format: true });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([xml], { type: "application/xml" }));
    link.download = this.process.file;
    document.body.append(link);
    link.click();
    setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
  }

  // --- forms ------------------------------------------------------------------------------

  openFormEditor(element) {
    const bo = element.businessObject;
    this.formTask = element;
    this.formEditor.open({
      taskName: bo.name,
      taskId: bo.id,
      key: this.process.key,
      schemaName: formProperty(bo, "formJsonSchemaFilename"),
      uiName: formProperty(bo, "formUiSchemaFilename"),
    });
  }

  saveForm(schemaName, schemaText, uiName, uiText) {
    this.forms[schemaName] = schemaText;
    this.forms[uiName] = uiText;
    const element = this.formTask;
    // Setting the properties is a command: the diagram turns dirty and is validated again.
    this.panel.setProperty(element, element.businessObject, "formJsonSchemaFilename", schemaName);
    this.panel.setProperty(element, element.businessObject, "formUiSchemaFilename", uiName);
    this.scheduleValidation();
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  const config = readJSON("modeler-config");
  if (!config) return;
  const app = new ModelerApp(config);
  window.potokModeler = app; // for tests and for the curious analyst's console
  await app.open();
  document.body.dataset.modelerReady = "true";
});
