"""Service-task handlers: one function per operator id, registered in `engine.operators`.

`import handlers` registers every operator (the web app and the workers both do it at start),
and the directories' initial-variables providers of the shipped processes.
Job operators call connectors through `handlers.clients` (one client per system per process,
built on first use); `handlers.reference` renders the operator reference (docs/operators.md,
`potok operators`).
"""

from engine.directories import install_start_providers
from handlers import (  # noqa: F401  (imported for their @operator registrations)
    budget,
    budget_ledger,
    courier,
    ids,
    loyalty,
    notify,
    payments,
    routing,
    telegram_offers,
    warehouse,
)

# Every start of a shipped process carries the current admin data (engine.directories).
install_start_providers()
