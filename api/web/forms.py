"""Task forms: JSON Schema + UI schema → fields to render, and a posted form → task data.

Widgets: text, textarea, number, integer, money, date, datetime, select (enum / oneOf),
directory (`ui:options.directory`), checkbox, checkboxes (array of enum), file (data URL,
`format: data-url` or `ui:widget: file`), email, tel, and a read-only JSON view for nested
values. Read-only fields (`ui:readonly`) are rendered read-only *and still posted*: the engine
(`engine.forms`) keeps the stored value whatever arrives, which is the guarantee that counts.
Validation is the engine's; `explain` only turns its failures into codes the templates translate.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from api.web import directories
from api.web.templating import DISPLAY_TIMEZONE
from engine.forms import readonly_fields

TEXT_WIDGETS = frozenset({"text", "textarea", "email", "tel", "password"})
KNOWN_WIDGETS = TEXT_WIDGETS | {
    "number",
    "integer",
    "money",
    "date",
    "datetime",
    "select",
    "radio",
    "directory",
    "checkbox",
    "checkboxes",
    "file",
    "hidden",
    "json",
}
_CENT = Decimal("0.01")
_DATA_URL = re.compile(r"^data:(?P<mime>[^;,]*)(?P<params>(;[^;,]*)*),(?P<data>.*)$", re.S)


@dataclass
class FieldError:
    """Why a field's value was refused: a code the template translates, and its parameters."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)
    message: str = ""


@dataclass
class FormField:
    """One field as the template renders it."""

    name: str
    label: str
    widget: str
    required: bool = False
    readonly: bool = False
    value: Any = None
    options: list[tuple[str, str]] = field(default_factory=list)
    help: str | None = None
    placeholder: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    currency: str | None = None
    error: FieldError | None = None
    file_name: str | None = None
    autofocus: bool = False


@dataclass
class Parsed:
    """A posted form read against the schema: the data, the fields it could not read, raw text."""

    data: dict[str, Any]
    errors: dict[str, FieldError]
    raw: dict[str, Any]


# --- schema reading -----------------------------------------------------------------------


def _properties(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    props = schema.get("properties") or {}
    return {name: prop if isinstance(prop, dict) else {} for name, prop in props.items()}


def _ui(ui_schema: dict[str, Any], name: str) -> dict[str, Any]:
    options = (ui_schema or {}).get(name)
    return options if isinstance(options, dict) else {}


def _ui_options(ui: dict[str, Any]) -> dict[str, Any]:
    options = ui.get("ui:options")
    return options if isinstance(options, dict) else {}


def field_order(schema: dict[str, Any], ui_schema: dict[str, Any]) -> list[str]:
    """Field names in `ui:order` (with its `*` wildcard), else in schema order."""
    names = list(_properties(schema))
    order = (ui_schema or {}).get("ui:order")
    if not isinstance(order, list):
        return names
    listed = [n for n in order if n in names]
    rest = [n for n in names if n not in listed]
    if "*" in order:
        at = order.index("*")
        before = [n for n in order[:at] if n in names]
        return before + rest + [n for n in listed if n not in before]
    return listed + rest


def widget_for(prop: dict[str, Any], ui: dict[str, Any]) -> str:
    """The widget a property is edited with."""
    chosen = ui.get("ui:widget")
    if _ui_options(ui).get("directory"):
        return "directory"
    if chosen == "radio" or chosen == "select":
        return "select"
    if chosen == "updown":
        return "integer" if prop.get("type") == "integer" else "number"
    if chosen in KNOWN_WIDGETS:
        return str(chosen)
    kind, fmt = prop.get("type"), prop.get("format")
    if kind == "boolean":
        return "checkbox"
    if "enum" in prop or "oneOf" in prop:
        return "select"
    if kind == "array" and isinstance(prop.get("items"), dict) and "enum" in prop["items"]:
        return "checkboxes"
    if kind in ("integer", "number"):
        return "money" if fmt == "money" else kind
    if kind in ("object", "array"):
        return "json"
    formats = {
        "date": "date",
        "date-time": "datetime",
        "data-url": "file",
        "email": "email",
        "money": "money",
        "decimal": "money",
    }
    return formats.get(str(fmt), "text")


def _choices(prop: dict[str, Any], ui: dict[str, Any]) -> list[tuple[str, str]]:
    source = prop["items"] if prop.get("type") == "array" and "items" in prop else prop
    if "oneOf" in source:
        return [
            (_text(option.get("const")), str(option.get("title", option.get("const"))))
            for option in source["oneOf"]
            if isinstance(option, dict) and "const" in option
        ]
    values = list(source.get("enum") or [])
    names = ui.get("ui:enumNames") or source.get("enumNames") or []
    labels = [str(names[i]) if i < len(names) else _text(v) for i, v in enumerate(values)]
    return [(_text(v), label) for v, label in zip(values, labels, strict=True)]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _attrs(prop: dict[str, Any], widget: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if widget in ("number", "integer", "money"):
        for key, attr in (("minimum", "min"), ("maximum", "max")):
            if key in prop:
                attrs[attr] = prop[key]
        attrs["step"] = prop.get("multipleOf", 1 if widget == "integer" else "any")
    if widget in TEXT_WIDGETS:
        for key, attr in (("maxLength", "maxlength"), ("minLength", "minlength")):
            if key in prop:
                attrs[attr] = prop[key]
    return attrs


# --- rendering ----------------------------------------------------------------------------


def display_value(widget: str, value: Any, currency: str | None = None) -> Any:
    """A stored value as the widget shows it."""
    if value is None:
        return [] if widget == "checkboxes" else ""
    if widget == "checkbox":
        return bool(value)
    if widget == "checkboxes":
        return [_text(v) for v in value] if isinstance(value, list) else []
    if widget == "money":
        try:
            return str(Decimal(str(value)).quantize(_CENT, ROUND_HALF_UP))
        except InvalidOperation:
            return _text(value)
    if widget == "datetime" and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            moment = moment.astimezone(ZoneInfo(DISPLAY_TIMEZONE))
        return moment.strftime("%Y-%m-%dT%H:%M")
    if widget == "json":
        import json

        return json.dumps(value, ensure_ascii=False, indent=2)
    return _text(value)


def file_name(value: Any) -> str | None:
    """The file name stored in a data URL (`data:...;name=<quoted>;base64,...`)."""
    if not isinstance(value, str):
        return None
    found = _DATA_URL.match(value[:2000])
    if not found:
        return None
    for param in found.group("params").split(";"):
        if param.startswith("name="):
            return unquote(param[5:])
    return "file"


def decode_file(value: Any) -> tuple[str, str, bytes] | None:
    """(name, mime type, bytes) of a data URL, or None."""
    if not isinstance(value, str):
        return None
    found = _DATA_URL.match(value)
    if not found or ";base64" not in found.group("params"):
        return None
    try:
        content = base64.b64decode(found.group("data"), validate=True)
    except ValueError:
        return None
    return file_name(value) or "file", found.group("mime") or "application/octet-stream", content


def build_fields(
    session: Session,
    form: dict[str, Any],
    values: dict[str, Any],
    *,
    errors: dict[str, FieldError] | None = None,
    raw: dict[str, Any] | None = None,
    visible: set[str] | None = None,
) -> list[FormField]:
    """The fields of a task form, filled with `values` (or the `raw` text the user typed)."""
    schema = form.get("schema") or {}
    ui_schema = form.get("ui_schema") or {}
    required = set(schema.get("required") or [])
    readonly = readonly_fields(ui_schema)
    props = _properties(schema)
    fields: list[FormField] = []
    for name in field_order(schema, ui_schema):
        if visible is not None and name not in visible:
            continue
        prop, ui = props[name], _ui(ui_schema, name)
        widget = widget_for(prop, ui)
        if widget == "hidden":
            continue
        options = _ui_options(ui)
        currency = options.get("currency") or prop.get("currency")
        item = FormField(
            name=name,
            label=str(ui.get("ui:title") or prop.get("title") or name),
            widget=widget,
            required=name in required,
            readonly=name in readonly or widget == "json",
            help=ui.get("ui:help") or prop.get("description"),
            placeholder=ui.get("ui:placeholder"),
            attrs=_attrs(prop, widget),
            currency=str(currency) if currency else None,
            autofocus=bool(ui.get("ui:autofocus")),
            error=(errors or {}).get(name),
        )
        if widget == "select" or widget == "checkboxes":
            item.options = _choices(prop, ui)
        elif widget == "directory":
            found = directories.options(session, str(options["directory"]), options)
            item.options = found if found is not None else []
        stored = values.get(name)
        if widget == "file":
            item.file_name = file_name(stored)
        elif raw is not None and name in raw:
            item.value = raw[name]
        else:
            item.value = display_value(widget, stored, item.currency)
        fields.append(item)
    return fields


# --- reading a posted form ----------------------------------------------------------------


def _number(text: str) -> Decimal:
    cleaned = text.replace("\u00a0", "").replace(" ", "").replace(",", ".")
    if not re.fullmatch(r"[-+]?\d+(\.\d+)?", cleaned):
        raise InvalidOperation(text)
    return Decimal(cleaned)


def _convert(widget: str, prop: dict[str, Any], text: str) -> Any:
    kind = prop.get("type")
    if widget == "integer" or kind == "integer":
        number = _number(text)
        if number != number.to_integral_value():
            raise InvalidOperation(text)
        return int(number)
    if widget == "number":
        return float(_number(text))
    if widget == "money":
        amount = _number(text).quantize(_CENT, ROUND_HALF_UP)
        return str(amount) if kind == "string" else float(amount)
    if widget == "date":
        return date.fromisoformat(text).isoformat()
    if widget == "datetime":
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(DISPLAY_TIMEZONE))
        return moment.isoformat()
    if kind == "boolean":
        return text == "true"
    if kind == "number":
        return float(_number(text))
    return text


def _error_code(widget: str, prop: dict[str, Any]) -> str:
    if widget in ("integer", "number", "money", "date", "datetime"):
        return widget
    return "integer" if prop.get("type") == "integer" else "number"


def _read_file(upload: Any, limit: int) -> str | FieldError | None:
    filename = getattr(upload, "filename", None)
    if not filename:
        return None
    content = upload.file.read(limit + 1)
    if len(content) > limit:
        return FieldError("file_too_large", {"limit": limit // 1024})
    mime = getattr(upload, "content_type", None) or mimetypes.guess_type(filename)[0]
    encoded = base64.b64encode(content).decode("ascii")
    return f"data:{mime or 'application/octet-stream'};name={quote(filename)};base64,{encoded}"


def parse_submission(
    session: Session,
    form: dict[str, Any],
    posted: FormData,
    current: dict[str, Any],
    *,
    max_file_bytes: int,
) -> Parsed:
    """Typed task data from a posted form; fields that cannot be read go to `errors`."""
    schema = form.get("schema") or {}
    ui_schema = form.get("ui_schema") or {}
    data: dict[str, Any] = {}
    errors: dict[str, FieldError] = {}
    raw: dict[str, Any] = {}
    required = set(schema.get("required") or [])
    for name, prop in _properties(schema).items():
        ui = _ui(ui_schema, name)
        widget = widget_for(prop, ui)
        if widget in ("hidden", "json"):
            continue
        if widget == "checkbox":
            data[name] = posted.get(name) in ("on", "true", "1")
            raw[name] = data[name]
            continue
        if widget == "checkboxes":
            chosen = [str(v) for v in posted.getlist(name)]
            raw[name] = chosen
            item_type = (prop.get("items") or {}).get("type")
            try:
                data[name] = [_convert("select", {"type": item_type}, v) for v in chosen]
            except (InvalidOperation, ValueError):
                errors[name] = FieldError("enum")
            continue
        if widget == "file":
            read = _read_file(posted.get(name), max_file_bytes)
            if isinstance(read, FieldError):
                errors[name] = read
            elif read is not None:
                data[name] = read
            elif name in current:
                data[name] = current[name]  # no new upload: the file stays
            continue
        value = posted.get(name)
        if value is None:
            continue  # not on the page: untouched
        text = str(value) if widget == "textarea" else str(value).strip()
        raw[name] = text
        if text == "":
            clearable = name not in required and not prop.get("format")
            if widget in TEXT_WIDGETS and current.get(name) and clearable:
                data[name] = ""  # the user cleared an optional field
            continue
        try:
            data[name] = _convert(widget, prop, text)
        except (InvalidOperation, ValueError):
            errors[name] = FieldError(_error_code(widget, prop))
        if widget == "directory" and name not in errors:
            _check_directory(session, ui, name, text, errors)
    return Parsed(data=data, errors=errors, raw=raw)


def _check_directory(
    session: Session, ui: dict[str, Any], name: str, value: str, errors: dict[str, FieldError]
) -> None:
    options = _ui_options(ui)
    entries = directories.options(session, str(options.get("directory")), options)
    if entries is not None and value not in {v for v, _ in entries}:
        errors[name] = FieldError("directory")


# --- explaining the engine's verdict ------------------------------------------------------

_PARAM_OF = {
    "minimum": "limit",
    "maximum": "limit",
    "exclusiveMinimum": "limit",
    "exclusiveMaximum": "limit",
    "minLength": "limit",
    "maxLength": "limit",
    "minItems": "limit",
    "maxItems": "limit",
    "multipleOf": "limit",
    "pattern": "pattern",
    "format": "format",
    "type": "type",
}


def explain(
    form: dict[str, Any], data: dict[str, Any], details: list[dict[str, Any]]
) -> tuple[dict[str, FieldError], list[str]]:
    """Per-field errors (translatable codes) for the engine's refusal, and the rest as text.

    `details` are the engine's `[{loc: ["data", field, ...], msg}]`; the schema is checked
    again here only to learn which rule each field broke.
    """
    schema = form.get("schema") or {}
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    found: dict[str, FieldError] = {}
    for error in validator.iter_errors(data):
        path = list(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            if not path:  # every missing top-level field gets its own message
                for missing in error.validator_value:
                    if missing not in error.instance:
                        found.setdefault(str(missing), FieldError("required", {}, error.message))
            continue
        if not path:
            continue
        key = str(error.validator)
        params = {"limit": error.validator_value} if key in _PARAM_OF else {}
        found.setdefault(str(path[0]), FieldError(key, params, error.message))
    general: list[str] = []
    for detail in details:
        loc = list(detail.get("loc") or [])
        name = str(loc[1]) if len(loc) > 1 else None
        if name is None:
            general.append(str(detail.get("msg", "")))
        elif name not in found:
            found[name] = FieldError("invalid", {}, str(detail.get("msg", "")))
    return found, general
