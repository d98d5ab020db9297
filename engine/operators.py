"""The operator registry: how a service task's operator id reaches a handler function.

`engine` never imports `handlers`; handlers register themselves here (`@operator(...)`)
and the application imports the handler package once at start-up.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.errors import NotFoundError

HandlerFunc = Callable[..., Any]


@dataclass(frozen=True)
class HandlerContext:
    """What a job handler gets besides its parameters: where it runs and a stable id."""

    instance_id: str
    task_guid: str
    element_id: str
    idempotency_key: str
    attempt: int = 1
    business_key: str | None = None
    services: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Operator:
    """One registered operator: its handler and how the engine runs it."""

    id: str
    func: HandlerFunc
    inline: bool
    description: str
    parameters: dict[str, str]
    max_attempts: int = 5
    backoff_base: float = 2.0

    def call(self, params: dict[str, Any], context: HandlerContext | None) -> Any:
        """Run the handler; job handlers also get the context as keyword `ctx`."""
        if self.inline:
            return self.func(**params)
        return self.func(ctx=context, **params)


def _describe_parameters(func: HandlerFunc) -> dict[str, str]:
    described: dict[str, str] = {}
    for name, param in inspect.signature(func).parameters.items():
        if name == "ctx" or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        annotation = param.annotation
        type_name = getattr(annotation, "__name__", str(annotation))
        required = param.default is inspect.Parameter.empty
        described[name] = f"{type_name}{'' if required else ' (optional)'}"
    return described


class OperatorRegistry:
    """A thread-safe table operator id → Operator."""

    def __init__(self) -> None:
        self._operators: dict[str, Operator] = {}
        self._lock = threading.Lock()

    def register(
        self,
        operator_id: str,
        *,
        inline: bool = False,
        max_attempts: int = 5,
        backoff_base: float = 2.0,
    ) -> Callable[[HandlerFunc], HandlerFunc]:
        """Decorator: register `func` under `operator_id` (inline = runs in the unit of work)."""

        def decorate(func: HandlerFunc) -> HandlerFunc:
            doc = (inspect.getdoc(func) or "").strip()
            entry = Operator(
                id=operator_id,
                func=func,
                inline=inline,
                description=doc.splitlines()[0] if doc else "",
                parameters=_describe_parameters(func),
                max_attempts=max_attempts,
                backoff_base=backoff_base,
            )
            with self._lock:
                self._operators[operator_id] = entry
            return func

        return decorate

    def get(self, operator_id: str) -> Operator:
        """The operator registered as `operator_id`, or NotFoundError."""
        try:
            return self._operators[operator_id]
        except KeyError:
            raise NotFoundError(f"unknown service operator '{operator_id}'") from None

    def ids(self) -> set[str]:
        return set(self._operators)

    def __iter__(self) -> Iterator[Operator]:
        return iter(sorted(self._operators.values(), key=lambda op: op.id))

    def unregister(self, operator_id: str) -> None:
        """Remove an operator (tests register throw-away operators)."""
        with self._lock:
            self._operators.pop(operator_id, None)


OPERATORS = OperatorRegistry()
operator = OPERATORS.register
