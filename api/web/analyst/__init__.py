"""The analyst workspace under /analyst: modeler, definitions, instances, incidents.

Only analysts and admins get in (everyone else: 403). Pages reuse the web UI's session,
CSRF check, base layout and catalogues (api.web); `install_analyst(app)` mounts them.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from api.web.security import csrf_protect


def analyst_router() -> APIRouter:
    """Every analyst page and JSON endpoint, behind the CSRF check for unsafe methods."""
    from api.web.analyst import definitions, incidents, instances, modeler

    router = APIRouter(dependencies=[Depends(csrf_protect)])
    for module in (definitions, modeler, instances, incidents):
        router.include_router(module.router, prefix="/analyst")
    return router


def install_analyst(app: FastAPI) -> None:
    """Mount the analyst workspace on `app` (built by api.app.create_app)."""
    app.include_router(analyst_router(), include_in_schema=False)
