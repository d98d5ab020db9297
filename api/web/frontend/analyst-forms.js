// The form editor of a user task: JSON Schema + UI schema files, kept with the diagram and
// sent along when it is validated or deployed.

import { el, t } from "./analyst-util.js";

function starterSchema(title) {
  return {
    type: "object",
    title,
    required: ["decision"],
    properties: {
      decision: { type: "string", title: "Decision", enum: ["approve", "reject"] },
      comment: { type: "string", title: "Comment" },
    },
  };
}

function parseProblem(text) {
  if (!text.trim()) return null;
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? null : t("A form file must hold a JSON object.");
  } catch (error) {
    return error.message;
  }
}

export class FormEditor {
  constructor(dialog, { forms, save }) {
    this.dialog = dialog;
    this.forms = forms; // () => {name: text}
    this.save = save; // (schemaName, schemaText, uiName, uiText) => void
  }

  open({ taskName, taskId, key, schemaName, uiName }) {
    const forms = this.forms();
    const base = `${key}-${taskId}`.replace(/[^A-Za-z0-9_.-]+/g, "-").toLowerCase();
    const schemaFile = schemaName || `${base}-schema.json`;
    const uiFile = uiName || `${base}-uischema.json`;
    const schemaText = forms[schemaFile] ?? JSON.stringify(starterSchema(taskName || taskId), null, 2);
    const uiText = forms[uiFile] ?? JSON.stringify({ comment: { "ui:widget": "textarea" } }, null, 2);
    const fields = {};
    const check = () => {
      let ok = true;
      for (const [name, area] of Object.entries(fields)) {
        const problem = parseProblem(area.value);
        const out = this.dialog.querySelector(`[data-problem="${name}"]`);
        out.textContent = problem || "";
        area.closest(".field").classList.toggle("has-error", Boolean(problem));
        ok = ok && !problem;
      }
      const names = [this.dialog.querySelector("#fe-schema-name"), this.dialog.querySelector("#fe-ui-name")];
      for (const input of names) ok = ok && /^[A-Za-z0-9_.-]+\.json$/.test(input.value.trim());
      this.dialog.querySelector("[data-action='save']").disabled = !ok;
    };
    const area = (name, text) => {
      fields[name] = el("textarea.code.form-json", { id: `fe-${name}`, value: text, rows: 16, spellcheck: "false", on: { input: check } });
      return fields[name];
    };
    const body = el("form.form-editor", { method: "dialog", on: { submit: (event) => {
      event.preventDefault();
      this.save(
        this.dialog.querySelector("#fe-schema-name").value.trim(), fields.schema.value,
        this.dialog.querySelector("#fe-ui-name").value.trim(), fields.ui.value,
      );
      this.dialog.close();
    } } },
      el("h2", { text: t("Form of “%(name)s”", { name: taskName || taskId }) }),
      el("div.form-editor-grid", {},
        el("div", {},
          el("div.field", {}, el("label", { for: "fe-schema-name", text: t("JSON Schema file") }),
            el("input.code", { id: "fe-schema-name", value: schemaFile, on: { input: check } })),
          el("div.field", {}, el("label", { for: "fe-schema", text: t("JSON Schema (fields, types, required)") }), area("schema", schemaText),
            el("p.field-error.quiet", { dataset: { problem: "schema" } }))),
        el("div", {},
          el("div.field", {}, el("label", { for: "fe-ui-name", text: t("UI schema file") }),
            el("input.code", { id: "fe-ui-name", value: uiFile, on: { input: check } })),
          el("div.field", {}, el("label", { for: "fe-ui", text: t("UI schema (widgets, order, help)") }), area("ui", uiText),
            el("p.field-error.quiet", { dataset: { problem: "ui" } })))),
      el("div.form-actions", {},
        el("button.btn.btn-primary", { type: "submit", dataset: { action: "save" }, text: t("Use this form") }),
        el("button.btn", { type: "button", text: t("Cancel"), on: { click: () => this.dialog.close() } }),
        el("span.muted.small", { text: t("The files are deployed with the process.") })));
    this.dialog.replaceChildren(body);
    check();
    this.dialog.showModal();
  }
}
