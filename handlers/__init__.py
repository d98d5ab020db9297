"""Service-task handlers: one function per operator id, registered in `engine.operators`.

`import handlers` registers every operator (the web app and the workers both do it at start).
Job operators call connectors through `handlers.clients` (one client per system per process,
built on first use); `handlers.reference` renders the operator reference (docs/operators.md,
`potok operators`).
"""

from handlers import (  # noqa: F401  (imported for their @operator registrations)
    budget,
    courier,
    ids,
    loyalty,
    notify,
    payments,
    routing,
    warehouse,
)
