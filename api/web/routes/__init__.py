"""The pages of the web UI; every unsafe request passes the CSRF check first."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.web.routes import account, admin, auth, inbox, tasks
from api.web.security import csrf_protect

router = APIRouter(dependencies=[Depends(csrf_protect)])
for module in (auth, inbox, tasks, account, admin):
    router.include_router(module.router)
