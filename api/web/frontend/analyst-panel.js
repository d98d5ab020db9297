// The properties panel of the modeler: what potok executes, per selected element.
// Every edit goes through bpmn-js's `modeling` commands, so undo/redo and the live
// validation see it like any change on the canvas. Fields commit on `change` (blur/Enter).

import { is } from "bpmn-js/lib/util/ModelUtil";
import { el, t } from "./analyst-util.js";

const S = "spiffworkflow:";
const ISO_DURATION = /^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const ISO_CYCLE = /^R(\d*)\/(.+)$/;
const NCNAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const TIMER_KINDS = ["timeDuration", "timeDate", "timeCycle"];

/** True if `text` is an ISO 8601 duration, date(-time) or repeating interval. */
export function isIsoTimer(text) {
  const value = text.trim();
  const cycle = ISO_CYCLE.exec(value);
  if (cycle) return cycle[2].split("/").every((part) => ISO_DURATION.test(part) || ISO_DATE.test(part));
  return ISO_DURATION.test(value) || ISO_DATE.test(value);
}

/** What the timer field shows: a quoted ISO literal unquoted, an expression as it is. */
export function timerInput(expression) {
  const match = /^\s*(["'])(.*)\1\s*$/.exec(expression || "");
  return match && isIsoTimer(match[2]) ? match[2] : expression || "";
}

/** What SpiffWorkflow evaluates: a typed ISO value becomes a Python string literal. */
export function timerExpression(input) {
  const value = input.trim();
  return isIsoTimer(value) ? JSON.stringify(value) : value;
}

const values = (bo) => (bo && bo.extensionElements ? bo.extensionElements.get("values") : []);
const findExt = (bo, type) => values(bo).find((v) => is(v, type));

export class PropertiesPanel {
  constructor(modeler, container, options) {
    this.modeler = modeler;
    this.container = container;
    this.options = options; // {operators, groups, forms(), openFormEditor(element), problemsOf(id)}
    this.operators = new Map(options.operators.map((op) => [op.id, op]));
    for (const name of ["modeling", "moddle", "canvas", "selection", "eventBus", "elementRegistry", "bpmnFactory"]) {
      this[name] = modeler.get(name);
    }
    this.eventBus.on("selection.changed", () => this.render());
    this.eventBus.on("import.done", () => this.render());
    this.eventBus.on("elements.changed", ({ elements }) => {
      const current = this.current;
      if (current && elements.some((e) => e === current || e.id === current.id)) this.render();
    });
  }

  element() {
    const selected = this.selection.get();
    return selected.length === 1 ? selected[0] : this.canvas.getRootElement();
  }

  // --- rendering ------------------------------------------------------------------------

  render() {
    const element = this.element();
    if (!element || !element.businessObject) return;
    const focused = document.activeElement && this.container.contains(document.activeElement)
      ? document.activeElement.dataset.field : null;
    this.current = element;
    const bo = element.businessObject;
    const sections = [this.general(element, bo), this.problems(element)];
    if (is(bo, "bpmn:Process") || is(bo, "bpmn:Collaboration") || is(bo, "bpmn:Participant")) {
      sections.push(this.processSection(element, bo));
    }
    if (is(bo, "bpmn:ServiceTask")) sections.push(this.serviceSection(element, bo));
    if (is(bo, "bpmn:ScriptTask")) sections.push(this.scriptSection(element, bo));
    if (is(bo, "bpmn:UserTask")) sections.push(this.userTaskSection(element, bo));
    if (is(bo, "bpmn:Lane")) sections.push(this.laneSection(element, bo));
    if (is(bo, "bpmn:SequenceFlow")) sections.push(this.flowSection(element, bo));
    if (is(bo, "bpmn:ExclusiveGateway") || is(bo, "bpmn:InclusiveGateway")) {
      sections.push(this.gatewaySection(element, bo));
    }
    const definitions = bo.eventDefinitions || [];
    const timer = definitions.find((d) => is(d, "bpmn:TimerEventDefinition"));
    const message = definitions.find((d) => is(d, "bpmn:MessageEventDefinition"));
    const error = definitions.find((d) => is(d, "bpmn:ErrorEventDefinition"));
    if (timer) sections.push(this.timerSection(element, timer));
    if (message) sections.push(this.messageSection(element, bo, message));
    if (is(bo, "bpmn:ReceiveTask") || is(bo, "bpmn:SendTask")) sections.push(this.messageSection(element, bo, bo));
    if (error) sections.push(this.errorSection(element, bo, error));
    if (is(bo, "bpmn:Task") && !is(bo, "bpmn:ScriptTask")) sections.push(this.scriptsSection(element, bo));
    this.container.replaceChildren(...sections.filter(Boolean));
    if (focused) this.container.querySelector(`[data-field="${focused}"]`)?.focus();
  }

  /** Show the current element's problems without re-rendering fields being typed in. */
  refreshProblems() {
    if (!this.current) return;
    const fresh = this.problems(this.current);
    const old = this.container.querySelector(".pproblems");
    if (old && fresh) old.replaceWith(fresh);
    else if (old) old.remove();
    else if (fresh) this.container.firstElementChild?.after(fresh);
  }

  section(title, ...children) {
    return el("section.psection", {}, el("h3", { text: title }), ...children);
  }

  field(label, control, help) {
    const id = control.id || `pf-${control.dataset.field}`;
    control.id = id;
    return el("div.pfield", {}, el("label", { for: id, text: label }), control, help ? el("p.help", { text: help }) : null);
  }

  input(name, value, commit, attrs = {}) {
    return el("input", {
      dataset: { field: name },
      value: value ?? "",
      spellcheck: "false",
      ...attrs,
      on: { change: (event) => commit(event.target.value, event.target) },
    });
  }

  textarea(name, value, commit, attrs = {}) {
    return el("textarea.code", {
      dataset: { field: name },
      value: value ?? "",
      spellcheck: "false",
      rows: 4,
      ...attrs,
      on: { change: (event) => commit(event.target.value) },
    });
  }

  select(name, options, value, commit, attrs = {}) {
    const opts = options.map(([v, label]) => el("option", { value: v, text: label }));
    return el("select", {
      dataset: { field: name },
      ...attrs,
      value: value ?? "",
      on: { change: (event) => commit(event.target.value) },
    }, opts);
  }

  // --- model helpers --------------------------------------------------------------------

  update(element, props) {
    this.modeling.updateProperties(element, props);
  }

  updateModdle(element, target, props) {
    this.modeling.updateModdleProperties(element, target, props);
  }

  create(type, attrs = {}) {
    return this.bpmnFactory.create(type, attrs);
  }

  extensionElements(element, owner) {
    let ext = owner.extensionElements;
    if (!ext) {
      ext = this.create("bpmn:ExtensionElements", { values: [] });
      ext.$parent = owner;
      this.updateModdle(element, owner, { extensionElements: ext });
    }
    return ext;
  }

  ensureExt(element, owner, type, attrs = {}) {
    const found = findExt(owner, type);
    if (found) return found;
    const ext = this.extensionElements(element, owner);
    const created = this.moddle.create(type, attrs);
    created.$parent = ext;
    this.updateModdle(element, ext, { values: [...ext.get("values"), created] });
    return created;
  }

  removeExt(element, owner, type) {
    const ext = owner.extensionElements;
    if (!ext) return;
    this.updateModdle(element, ext, { values: ext.get("values").filter((v) => !is(v, type)) });
  }

  /** A body-text extension (instructions, scripts, message variable): empty removes it. */
  setBodyExt(element, owner, type, text) {
    const value = text.trim() ? text : "";
    if (!value) return this.removeExt(element, owner, type);
    const found = findExt(owner, type);
    if (found) this.updateModdle(element, found, { value });
    else this.ensureExt(element, owner, type, { value });
  }

  property(bo, name) {
    const props = findExt(bo, `${S}Properties`);
    const found = props && props.get("property").find((p) => p.name === name);
    return found ? found.value : "";
  }

  setProperty(element, bo, name, value) {
    const props = this.ensureExt(element, bo, `${S}Properties`);
    const list = props.get("property");
    const existing = list.find((p) => p.name === name);
    if (!value) {
      this.updateModdle(element, props, { property: list.filter((p) => p !== existing) });
    } else if (existing) {
      this.updateModdle(element, existing, { value });
    } else {
      const created = this.moddle.create(`${S}Property`, { name, value });
      created.$parent = props;
      this.updateModdle(element, props, { property: [...list, created] });
    }
  }

  definitions() {
    return this.modeler.getDefinitions();
  }

  rootElements(type) {
    return this.definitions().get("rootElements").filter((r) => is(r, type));
  }

  addRootElement(element, type, attrs) {
    const definitions = this.definitions();
    const created = this.create(type, attrs);
    created.$parent = definitions;
    this.updateModdle(element, definitions, { rootElements: [...definitions.get("rootElements"), created] });
    return created;
  }

  uniqueId(prefix) {
    const taken = new Set(this.definitions().get("rootElements").map((r) => r.id));
    this.elementRegistry.forEach((e) => taken.add(e.id));
    let n = 1;
    while (taken.has(`${prefix}_${n}`)) n += 1;
    return `${prefix}_${n}`;
  }

  // --- sections -------------------------------------------------------------------------

  general(element, bo) {
    const kind = (bo.$type || "").replace("bpmn:", "");
    const idInput = this.input("id", bo.id, (value, node) => {
      const id = value.trim();
      const clash = id !== bo.id && (this.elementRegistry.get(id) || this.definitions().get("rootElements").some((r) => r.id === id));
      if (!NCNAME.test(id) || clash) {
        node.setCustomValidity(clash ? t("This id is already used.") : t("Latin letters, digits and _ . - only; not starting with a digit."));
        node.reportValidity();
        return;
      }
      node.setCustomValidity("");
      this.update(element, { id });
    });
    const fields = [el("p.ptype", {}, el("span.tag", { text: kind }))];
    if (is(bo, "bpmn:Process")) return this.section(t("General"), ...fields); // see "Process"
    fields.push(this.field(t("Id"), idInput));
    if (!is(bo, "bpmn:Collaboration")) {
      fields.push(this.field(t("Label"), this.input("name", bo.name, (value) => this.update(element, { name: value || undefined }))));
    }
    return this.section(t("General"), ...fields);
  }

  problems(element) {
    const found = this.options.problemsOf(element.id);
    if (!found.length) return null;
    return el("div.pproblems", { role: "alert" }, found.map((p) => el(`p.pproblem.pproblem-${p.kind}`, { text: p.msg })));
  }

  processSection(element, bo) {
    const process = is(bo, "bpmn:Process") ? bo : is(bo, "bpmn:Participant") ? bo.processRef
      : (bo.get("participants")[0] || {}).processRef;
    if (!process) return null;
    const own = is(bo, "bpmn:Process"); // the root shape is the process itself
    const key = this.input("process-key", process.id, (value, node) => {
      if (!NCNAME.test(value.trim())) {
        node.setCustomValidity(t("Latin letters, digits and _ . - only; not starting with a digit."));
        node.reportValidity();
        return;
      }
      if (own) this.update(element, { id: value.trim() });
      else this.updateModdle(element, process, { id: value.trim() });
    });
    const name = this.input("process-name", process.name, (value) => {
      if (own) this.update(element, { name: value || undefined });
      else this.updateModdle(element, process, { name: value || undefined });
    });
    return this.section(
      t("Process"),
      this.field(t("Key"), key, t("Integrators start the process by this key; a new key is a new process.")),
      this.field(t("Process name"), name),
    );
  }

  serviceSection(element, bo) {
    const operator = findExt(bo, `${S}ServiceTaskOperator`);
    const currentId = operator ? operator.id || "" : "";
    const spec = this.operators.get(currentId);
    const options = [["", t("— choose an operator —")]];
    for (const op of this.operators.values()) options.push([op.id, op.description ? `${op.id} — ${op.description}` : op.id]);
    if (currentId && !spec) options.push([currentId, `⚠ ${currentId} (${t("unknown")})`]);
    const choose = this.select("operator", options, currentId, (value) => this.setOperator(element, bo, value));
    const parts = [this.field(t("Operator"), choose, spec ? spec.description : null)];
    if (spec) parts.push(el("p.help", { text: spec.inline ? t("Runs at once, inside the step.") : t("Runs as a job in a worker; failures are retried, then become an incident.") }));
    if (operator) {
      parts.push(this.parameters(element, operator, spec));
      parts.push(this.field(t("Result variable"), this.input("result-variable", operator.resultVariable,
        (value) => this.updateModdle(element, operator, { resultVariable: value.trim() || undefined }), { placeholder: "result" }),
        t("The handler's result is stored in this variable.")));
      parts.push(this.retry(element, operator, spec));
    }
    return this.section(t("Service task"), ...parts);
  }

  setOperator(element, bo, operatorId) {
    const operator = this.ensureExt(element, bo, `${S}ServiceTaskOperator`, { id: operatorId });
    if (operator.id !== operatorId) this.updateModdle(element, operator, { id: operatorId });
    let params = operator.parameters;
    if (!params) {
      params = this.moddle.create(`${S}Parameters`, { parameter: [] });
      params.$parent = operator;
      this.updateModdle(element, operator, { parameters: params });
    }
    const spec = this.operators.get(operatorId);
    const existing = new Map(params.get("parameter").map((p) => [p.id, p]));
    const list = spec
      ? spec.parameters.map((p) => existing.get(p.name) || this.moddle.create(`${S}Parameter`, { id: p.name, type: "any" }))
      : [...existing.values()];
    list.forEach((p) => { p.$parent = params; });
    this.updateModdle(element, params, { parameter: list });
  }

  parameters(element, operator, spec) {
    const params = operator.parameters ? operator.parameters.get("parameter") : [];
    const documented = new Map((spec ? spec.parameters : []).map((p) => [p.name, p]));
    const rows = params.map((param) => {
      const doc = documented.get(param.id);
      const input = this.input(`param-${param.id}`, param.value, (value) => {
        this.updateModdle(element, param, { value: value.trim() ? value : undefined, type: param.type || "any" });
      }, { class: "code", placeholder: doc && !doc.required ? t("optional") : t("expression") });
      const missing = doc && doc.required && !(param.value || "").trim();
      return el(`div.pparam${missing ? ".is-missing" : ""}`, {},
        el("label", { for: `pf-param-${param.id}` }, el("code", { text: param.id }), doc ? el("span.muted", { text: ` ${doc.type}${doc.required ? "" : " · " + t("optional")}` }) : null),
        Object.assign(input, { id: `pf-param-${param.id}` }),
        missing ? el("p.field-error", { text: t("Required: the handler needs this value.") }) : null);
    });
    return el("fieldset.pgroup", {}, el("legend", { text: t("Parameters (Python expressions)") }),
      rows.length ? rows : el("p.muted.small", { text: t("This operator takes no parameters.") }));
  }

  retry(element, operator, spec) {
    const retry = operator.retry;
    const commit = () => {
      const retries = this.container.querySelector('[data-field="retries"]').value.trim();
      const base = this.container.querySelector('[data-field="backoff"]').value.trim();
      if (!retries && !base) return this.updateModdle(element, operator, { retry: undefined });
      const attrs = { retries: retries || undefined, backoff_base: base || undefined };
      if (retry) return this.updateModdle(element, retry, attrs);
      const created = this.moddle.create(`${S}Retry`, attrs);
      created.$parent = operator;
      this.updateModdle(element, operator, { retry: created });
    };
    const number = (name, value, placeholder) =>
      this.input(name, value, commit, { type: "number", min: "1", step: "1", placeholder: placeholder ?? "" });
    return el("fieldset.pgroup", {}, el("legend", { text: t("Retry policy") }),
      el("div.prow", {},
        this.field(t("Attempts"), number("retries", retry && retry.retries, spec && spec.max_attempts)),
        this.field(t("Backoff base, s"), number("backoff", retry && retry.backoff_base, spec && spec.backoff_base))),
      el("p.help", { text: t("Transient errors are retried after base^attempt seconds; then an incident opens.") }));
  }

  scriptSection(element, bo) {
    const area = this.textarea("script", bo.script, (value) => {
      this.update(element, { script: value, scriptFormat: bo.scriptFormat || "python" });
    }, { rows: 12 });
    return this.section(t("Script"), this.field(t("Python script"), area,
      t("Runs in the sandbox; task data are its variables. No imports.")));
  }

  scriptsSection(element, bo) {
    const pre = findExt(bo, `${S}PreScript`);
    const post = findExt(bo, `${S}PostScript`);
    const details = el("details.pgroup", { open: Boolean(pre || post) },
      el("summary", { text: t("Pre- and post-scripts") }),
      this.field(t("Before the task"), this.textarea("prescript", pre && pre.value, (v) => this.setBodyExt(element, bo, `${S}PreScript`, v))),
      this.field(t("After the task"), this.textarea("postscript", post && post.value, (v) => this.setBodyExt(element, bo, `${S}PostScript`, v))));
    return el("section.psection", {}, details);
  }

  laneOf(bo) {
    const lane = this.elementRegistry.find((e) => is(e, "bpmn:Lane") && (e.businessObject.get("flowNodeRef") || []).includes(bo));
    return lane ? lane.businessObject.name || lane.id : null;
  }

  groupList(id) {
    return el(`datalist#${id}`, {}, this.options.groups.map((g) => el("option", { value: g })));
  }

  userTaskSection(element, bo) {
    const lane = this.laneOf(bo);
    const groups = this.property(bo, "candidateGroups");
    const forms = this.options.forms();
    const schemaNames = Object.keys(forms).filter((n) => !/[-.]uischema\.json$/i.test(n)).sort();
    const uiNames = Object.keys(forms).filter((n) => /[-.]uischema\.json$/i.test(n)).sort();
    const schema = this.property(bo, "formJsonSchemaFilename");
    const ui = this.property(bo, "formUiSchemaFilename");
    const withCurrent = (names, current) => (current && !names.includes(current) ? [...names, current] : names);
    const schemaSelect = this.select("form-schema", [["", t("— no form —")], ...withCurrent(schemaNames, schema).map((n) => [n, n])], schema,
      (value) => {
        this.setProperty(element, bo, "formJsonSchemaFilename", value);
        const guess = value.replace(/-schema\.json$/i, "-uischema.json");
        if (value && !ui && forms[guess]) this.setProperty(element, bo, "formUiSchemaFilename", guess);
      });
    const uiSelect = this.select("form-ui", [["", t("— default layout —")], ...withCurrent(uiNames, ui).map((n) => [n, n])], ui,
      (value) => this.setProperty(element, bo, "formUiSchemaFilename", value));
    const instructions = findExt(bo, `${S}InstructionsForEndUser`);
    const who = groups || lane;
    return this.section(t("User task"),
      el("p.plane", {}, t("Lane"), ": ", lane ? el("strong", { text: lane }) : el("span.muted", { text: t("none") })),
      this.field(t("Candidate groups"), this.input("candidate-groups", groups,
        (value) => this.setProperty(element, bo, "candidateGroups", value.split(",").map((g) => g.trim()).filter(Boolean).join(",")),
        { list: "pgroups", placeholder: lane || "managers" }),
        who ? t("Offered to: %(who)s.", { who }) : t("Offered to everyone: put the task in a lane or name groups.")),
      this.groupList("pgroups"),
      el("fieldset.pgroup", {}, el("legend", { text: t("Form") }),
        this.field(t("JSON Schema"), schemaSelect),
        this.field(t("UI schema"), uiSelect),
        el("div.pbuttons", {},
          el("button.btn.btn-sm", { type: "button", text: schema ? t("Edit form…") : t("New form…"),
            on: { click: () => this.options.openFormEditor(element) } }))),
      this.field(t("Instructions (Markdown)"), this.textarea("instructions", instructions && instructions.value,
        (value) => this.setBodyExt(element, bo, `${S}InstructionsForEndUser`, value))));
  }

  laneSection(element, bo) {
    return this.section(t("Lane"),
      this.field(t("Group"), this.input("lane-group", bo.name, (value) => this.update(element, { name: value.trim() || undefined }),
        { list: "pgroups-lane" }), t("User tasks in this lane are offered to this group unless they name candidate groups.")),
      this.groupList("pgroups-lane"));
  }

  flowSection(element, bo) {
    const source = bo.sourceRef;
    if (!is(source, "bpmn:ExclusiveGateway") && !is(source, "bpmn:InclusiveGateway")) return null;
    const sourceShape = this.elementRegistry.get(source.id);
    const isDefault = source.default === bo;
    const toggle = el("input", { type: "checkbox", dataset: { field: "default-flow" }, checked: isDefault,
      on: { change: (event) => this.update(sourceShape, { default: event.target.checked ? bo : undefined }) } });
    const condition = this.textarea("condition", bo.conditionExpression && bo.conditionExpression.body, (value) => {
      const expr = value.trim() ? this.create("bpmn:FormalExpression", { body: value.trim() }) : undefined;
      this.update(element, { conditionExpression: expr });
    }, { rows: 3, disabled: isDefault, placeholder: 'delivery_method == "pickup"' });
    return this.section(t("Condition"),
      el("label.check", {}, toggle, t("Default flow (taken when no condition holds)")),
      this.field(t("Condition (Python expression)"), condition));
  }

  gatewaySection(element, bo) {
    const outgoing = bo.get("outgoing") || [];
    const label = (f) => f.name || (f.conditionExpression && f.conditionExpression.body) || f.id;
    const choose = this.select("default", [["", t("— none —")], ...outgoing.map((f) => [f.id, label(f)])],
      bo.default ? bo.default.id : "",
      (value) => this.update(element, { default: outgoing.find((f) => f.id === value) }));
    const list = el("ul.pflows", {}, outgoing.map((f) => el("li", {},
      el("strong", { text: f.name || f.id }), " ",
      bo.default === f ? el("span.tag", { text: t("default") })
        : el("code", { text: (f.conditionExpression && f.conditionExpression.body) || t("no condition") }))));
    return this.section(t("Gateway"), this.field(t("Default flow"), choose),
      outgoing.length ? list : el("p.field-error", { text: t("No outgoing flow: a token reaching this gateway stops.") }));
  }

  timerSection(element, timer) {
    const kind = TIMER_KINDS.find((k) => timer[k]) || "timeDuration";
    const expr = timer[kind] ? timer[kind].body : "";
    const shown = timerInput(expr);
    const commit = () => {
      const chosen = this.container.querySelector('[data-field="timer-kind"]').value;
      const text = this.container.querySelector('[data-field="timer-value"]').value;
      const props = Object.fromEntries(TIMER_KINDS.map((k) => [k, undefined]));
      if (text.trim()) props[chosen] = this.create("bpmn:FormalExpression", { body: timerExpression(text) });
      this.updateModdle(element, timer, props);
    };
    const kinds = [["timeDuration", t("Duration (PT2H)")], ["timeDate", t("Date (2025-03-01T09:00:00+03:00)")], ["timeCycle", t("Cycle (R3/PT1H)")]];
    const valueInput = this.input("timer-value", shown, commit, { class: "code", placeholder: "PT24H" });
    const iso = isIsoTimer(shown);
    const help = !shown.trim() ? t("Empty: the timer never fires.")
      : iso ? t("ISO 8601 value.") : t("A Python expression that gives an ISO 8601 string, e.g. a variable.");
    return this.section(t("Timer"),
      this.field(t("Kind"), this.select("timer-kind", kinds, kind, commit)),
      this.field(t("When"), valueInput, help));
  }

  messageSection(element, bo, target) {
    const messages = this.rootElements("bpmn:Message");
    const current = target.messageRef;
    const NEW = "__new__";
    const choose = this.select("message", [["", t("— choose a message —")], ...messages.map((m) => [m.id, m.name || m.id]), [NEW, t("+ New message…")]],
      current ? current.id : "", (value) => {
        let message = messages.find((m) => m.id === value);
        if (value === NEW) {
          const name = window.prompt(t("Message name (what integrators send to POST /api/messages)"), "");
          if (!name) return this.render();
          message = this.addRootElement(element, "bpmn:Message", { id: this.uniqueId("msg"), name: name.trim() });
        }
        this.updateModdle(element, target, { messageRef: message });
      });
    const parts = [this.field(t("Message"), choose)];
    if (current) {
      parts.push(this.field(t("Message name"), this.input("message-name", current.name,
        (value) => value.trim() && this.updateModdle(element, current, { name: value.trim() }))));
      parts.push(this.correlations(element, current));
    }
    const catching = is(bo, "bpmn:CatchEvent") || is(bo, "bpmn:ReceiveTask");
    const type = catching ? `${S}MessageVariable` : `${S}MessagePayload`;
    const found = findExt(target, type);
    parts.push(this.field(catching ? t("Store the payload in variable") : t("Payload (Python expression)"),
      this.input(catching ? "message-variable" : "message-payload", found && found.value,
        (value) => this.setBodyExt(element, target, type, value), { class: "code" })));
    return this.section(t("Message"), ...parts);
  }

  correlations(element, message) {
    const props = this.rootElements("bpmn:CorrelationProperty");
    const rows = [];
    for (const prop of props) {
      for (const retrieval of prop.get("correlationPropertyRetrievalExpression")) {
        if (retrieval.messageRef !== message) continue;
        const path = retrieval.messagePath ? retrieval.messagePath.body : "";
        rows.push(el("div.pcorr", {},
          el("code.pcorr-key", { text: prop.name || prop.id }),
          this.input(`corr-${prop.id}`, path, (value) => {
            this.updateModdle(element, retrieval, { messagePath: this.create("bpmn:FormalExpression", { body: value.trim() }) });
          }, { class: "code", "aria-label": t("Expression of %(key)s", { key: prop.name || prop.id }) }),
          el("button.icon-x", { type: "button", title: t("Remove"), "aria-label": t("Remove"), text: "✕", on: { click: () => {
            this.updateModdle(element, prop, { correlationPropertyRetrievalExpression: prop.get("correlationPropertyRetrievalExpression").filter((r) => r !== retrieval) });
          } } })));
      }
    }
    const add = el("button.btn.btn-sm", { type: "button", text: t("+ Correlation key"), on: { click: () => {
      const key = (window.prompt(t("Correlation key (e.g. order_id)"), "") || "").trim();
      if (!NCNAME.test(key)) return;
      this.addCorrelation(element, message, key);
    } } });
    return el("fieldset.pgroup", {}, el("legend", { text: t("Correlation keys") }),
      rows.length ? rows : el("p.muted.small", { text: t("None: the message goes to every waiting instance.") }),
      el("p.help", { text: t("Each key is read from the message payload; instances wait for the value they hold.") }),
      el("div.pbuttons", {}, add));
  }

  addCorrelation(element, message, key) {
    let prop = this.rootElements("bpmn:CorrelationProperty").find((p) => p.name === key || p.id === key);
    if (!prop) prop = this.addRootElement(element, "bpmn:CorrelationProperty", { id: this.uniqueId(key), name: key, correlationPropertyRetrievalExpression: [] });
    const retrieval = this.create("bpmn:CorrelationPropertyRetrievalExpression", {
      messageRef: message, messagePath: this.create("bpmn:FormalExpression", { body: key }),
    });
    retrieval.$parent = prop;
    this.updateModdle(element, prop, { correlationPropertyRetrievalExpression: [...prop.get("correlationPropertyRetrievalExpression"), retrieval] });
  }

  errorSection(element, bo, definition) {
    const errors = this.rootElements("bpmn:Error");
    const current = definition.errorRef;
    const NEW = "__new__";
    const label = (e) => `${e.name || e.id}${e.errorCode ? ` (${e.errorCode})` : ""}`;
    const catching = is(bo, "bpmn:BoundaryEvent") || is(bo, "bpmn:StartEvent");
    const choose = this.select("error", [["", catching ? t("— any error —") : t("— choose an error —")], ...errors.map((e) => [e.id, label(e)]), [NEW, t("+ New error…")]],
      current ? current.id : "", (value) => {
        let error = errors.find((e) => e.id === value);
        if (value === NEW) {
          const code = (window.prompt(t("Error code (what the handler's error carries)"), "") || "").trim();
          if (!code) return this.render();
          error = this.addRootElement(element, "bpmn:Error", { id: this.uniqueId("error"), name: code, errorCode: code });
        }
        this.updateModdle(element, definition, { errorRef: error });
      });
    const parts = [this.field(catching ? t("Catches") : t("Throws"), choose,
      catching ? t("A handler error with this code follows this path instead of opening an incident.") : null)];
    if (current) {
      parts.push(this.field(t("Error code"), this.input("error-code", current.errorCode,
        (value) => this.updateModdle(element, current, { errorCode: value.trim() || undefined }), { class: "code" })));
      parts.push(this.field(t("Error name"), this.input("error-name", current.name,
        (value) => this.updateModdle(element, current, { name: value.trim() || undefined }))));
    }
    return this.section(t("Error"), ...parts);
  }
}
