"""User-task forms: JSON Schema validation of submitted data and read-only fields."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from engine.errors import FormValidationError

_FORMAT_CHECKER = FormatChecker()


def readonly_fields(ui_schema: dict[str, Any] | None) -> set[str]:
    """Top-level fields the UI schema marks read-only (set by the process, never typed)."""
    fields: set[str] = set()
    for name, options in (ui_schema or {}).items():
        if isinstance(options, dict) and (options.get("ui:readonly") or options.get("ui:disabled")):
            fields.add(name)
    return fields


def _error_location(error: ValidationError) -> list[str | int]:
    path: list[str | int] = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        path.extend(missing[:1])
    return ["data", *path]


def validate_task_submission(
    form: dict[str, Any], data: dict[str, Any], current: dict[str, Any]
) -> dict[str, Any]:
    """Validate a user-task submission against its form {"schema", "ui_schema"}."""
    schema = form.get("schema") or {}
    if not schema:
        return data
    return _validated(schema, data, current, form.get("ui_schema"))


def _validated(
    schema: dict[str, Any],
    data: dict[str, Any],
    current: dict[str, Any],
    ui_schema: dict[str, Any] | None,
) -> dict[str, Any]:
    merged = dict(data)
    # Process-set fields: whatever the client sent, the stored value wins.
    for name in readonly_fields(ui_schema):
        merged.pop(name, None)
        if name in current:
            merged[name] = current[name]
    validator = Draft202012Validator(schema, format_checker=_FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(merged), key=lambda e: list(e.absolute_path))
    if errors:
        details = [{"loc": _error_location(e), "msg": e.message} for e in errors]
        fields = ", ".join(str(d["loc"][-1]) for d in details if len(d["loc"]) > 1)
        raise FormValidationError(
            f"form data is invalid: {fields or 'see details'}", details=details
        )
    return merged
