"""The script engine potok gives every workflow, plus analyst-friendly timer expressions."""

from __future__ import annotations

import re
from typing import Any

from engine.sandbox import SandboxedScriptEngine
from engine.settings import get_settings

# Analysts write timer expressions as plain ISO 8601 (PT10M, R3/PT1H, 2026-12-01T09:00:00+03:00);
# SpiffWorkflow evaluates them as Python, where those are syntax errors.
_ISO_8601 = re.compile(
    r"^(R\d*/)?(P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?"
    r"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)"
    r"(/P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?)?$"
)


def is_iso8601_literal(expression: str) -> bool:
    """True for a bare ISO 8601 duration, date-time or repeating interval."""
    return bool(_ISO_8601.match(expression.strip()))


class PotokScriptEngine(SandboxedScriptEngine):
    """The sandboxed engine; bare ISO 8601 literals evaluate to themselves."""

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        if isinstance(expression, str) and is_iso8601_literal(expression):
            return expression.strip()
        return super().evaluate(task, expression, external_context)


def make_script_engine() -> PotokScriptEngine:
    """A script engine for one workflow run, with the configured CPU and size budgets."""
    settings = get_settings()
    return PotokScriptEngine(
        cpu_seconds=settings.script_cpu_seconds, max_sequence=settings.script_max_sequence
    )
