"""POST /api/messages: deliver a BPMN message to waiting instances, or start processes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.auth.deps import require_scope
from api.auth.service import Principal
from api.deps import SessionDep
from api.idempotency import Idempotency
from api.schemas.common import error_docs
from api.schemas.messages import MessageCreate, MessageRead
from engine import service

router = APIRouter(tags=["messages"])

Sender = Annotated[Principal, Depends(require_scope("messages:send"))]


@router.post(
    "/messages",
    response_model=MessageRead,
    summary="Send a message",
    responses=error_docs(
        (404, "`no_matching_subscription`: nobody waits and nothing starts on it")
    ),
)
def send_message(
    body: MessageCreate, session: SessionDep, idem: Idempotency, caller: Sender
) -> Any:
    """Deliver to every instance waiting with these correlation values, else start processes."""

    def produce() -> tuple[int, MessageRead]:
        outcome = service.deliver_message(
            session,
            name=body.name,
            correlation=body.correlation,
            variables=body.variables,
            actor=caller.actor,
        )
        return 200, MessageRead.model_validate(outcome)

    return idem.run(body=body.model_dump(mode="json"), produce=produce)
