"""Seams for code outside the engine (the engine imports none of it; it registers itself).

- *Initial variables* of a process key: `register_initial_variables(key, provider)`. Every
  start of that process — `start_instance` (REST, CLI, tests) and a message start event
  (webhooks, messages other processes throw) — asks the providers first: a provider sees the
  variables the starter gave (for a message start: the message's payload) and returns the
  variables to set; the engine applies them over what was given. This is how admin data
  (routing by city, buffer seconds, budgets) reaches a process at its start without a deploy.
  A provider should keep what the starter gave explicitly (it is handed in for that).
- *Message handlers*: `register_message_handler(name, handler)` for messages that no BPMN
  element waits for (e.g. a Telegram button press that claims a task). Consulted only when no
  instance waits for the message with those correlation values, before message start events;
  the handler returns the ids of the instances it acted for, or None when the message is not
  its own. Both run inside the caller's unit of work (flush only, never commit).
- *Periodic duties*: `register_periodic(name, duty)`; the workers' beat runs every registered
  duty every few seconds (`run_periodic`), each with the session factory, in the process that
  imported the registering module (the workers import `handlers`). A duty opens its own units
  of work and must be safe to run concurrently with itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from engine.actor import Actor

InitialVariablesProvider = Callable[[Session, dict[str, Any]], dict[str, Any]]
MessageHandler = Callable[[Session, dict[str, Any], Actor | None], list[str] | None]
PeriodicDuty = Callable[[sessionmaker[Session]], Any]

log = logging.getLogger(__name__)
_lock = threading.Lock()
_providers: dict[str, list[InitialVariablesProvider]] = {}
_handlers: dict[str, list[MessageHandler]] = {}
_periodic: dict[str, PeriodicDuty] = {}


def register_initial_variables(key: str, provider: InitialVariablesProvider) -> Callable[[], None]:
    """Ask `provider` for variables whenever process `key` starts; returns an unregister."""
    with _lock:
        _providers.setdefault(key, []).append(provider)

    def unregister() -> None:
        with _lock:
            if provider in _providers.get(key, []):
                _providers[key].remove(provider)

    return unregister


def initial_variables(session: Session, key: str, given: dict[str, Any]) -> dict[str, Any]:
    """`given` with what the providers of process `key` add (a new dict; `given` untouched)."""
    with _lock:
        providers = list(_providers.get(key, []))
    variables = dict(given)
    for provider in providers:
        variables.update(provider(session, dict(variables)))
    return variables


def register_message_handler(name: str, handler: MessageHandler) -> Callable[[], None]:
    """Let `handler` take message `name` when no BPMN element waits for it; an unregister."""
    with _lock:
        _handlers.setdefault(name, []).append(handler)

    def unregister() -> None:
        with _lock:
            if handler in _handlers.get(name, []):
                _handlers[name].remove(handler)

    return unregister


def handle_message(
    session: Session, name: str, payload: dict[str, Any], actor: Actor | None
) -> list[str] | None:
    """The instance ids the first handler that takes message `name` acted for, else None."""
    with _lock:
        handlers = list(_handlers.get(name, []))
    for handler in handlers:
        handled = handler(session, dict(payload), actor)
        if handled is not None:
            return handled
    return None


def register_periodic(name: str, duty: PeriodicDuty) -> Callable[[], None]:
    """Have the beat run `duty(session_factory)` every few seconds; returns an unregister."""
    with _lock:
        _periodic[name] = duty

    def unregister() -> None:
        with _lock:
            if _periodic.get(name) is duty:
                del _periodic[name]

    return unregister


def run_periodic(factory: sessionmaker[Session]) -> dict[str, str]:
    """Run every registered duty once; {name: "ok" | "failed: <why>"} (one failing does not
    stop the others)."""
    with _lock:
        duties = dict(_periodic)
    outcomes: dict[str, str] = {}
    for name, duty in sorted(duties.items()):
        try:
            duty(factory)
            outcomes[name] = "ok"
        except Exception as exc:
            log.warning("periodic duty %s failed: %s", name, exc, exc_info=True)
            outcomes[name] = f"failed: {exc}"
    return outcomes
