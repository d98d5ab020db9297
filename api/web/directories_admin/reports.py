"""REST reports over the directories: the month's budget, the loss reasons.

`GET /api/reports/budget?month=YYYY-MM`: plan / reserved / spent / free per article and per
group (JSON; CSV with `Accept: text/csv`). `GET /api/reports/loss-reasons`: how many finished
leads and deals were lost for each reason. Accountants, analysts and admins.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from api.auth.deps import require_role
from api.auth.service import Principal
from api.deps import SessionDep
from api.errors import ApiError
from engine.errors import ValidationFailed
from engine.models import InstanceVariable, ProcessInstance
from handlers.budget_ledger import report, report_csv

router = APIRouter(prefix="/reports", tags=["reports"])
Reporter = Annotated[Principal, Depends(require_role("accountant", "analyst"))]
LOST_PROCESSES = ("lead_qualification", "deal_pipeline")


@router.get("/budget", summary="Budget of a month: plan, reserved, spent per article and group")
def budget_report(
    request: Request,
    session: SessionDep,
    _caller: Reporter,
    month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")],
) -> Any:
    """Amounts in rubles; `free` = plan − reserved − spent. `Accept: text/csv` gives CSV."""
    try:
        data = report(session, month=month)
    except ValidationFailed as exc:
        raise ApiError(422, "validation_error", exc.message, details=exc.details) from exc
    if "text/csv" in request.headers.get("accept", ""):
        headers = {"Content-Disposition": f'attachment; filename="budget-{month}.csv"'}
        return Response(report_csv(data), media_type="text/csv; charset=utf-8", headers=headers)
    return data


@router.get("/loss-reasons", summary="Lost leads and deals per loss reason")
def loss_reasons_report(session: SessionDep, _caller: Reporter) -> dict[str, Any]:
    """{"reasons": [{"reason", "process", "count"}]}, most frequent first."""
    rows = session.execute(
        select(ProcessInstance.key, InstanceVariable.value, func.count())
        .join(InstanceVariable, InstanceVariable.instance_id == ProcessInstance.id)
        .where(
            ProcessInstance.key.in_(LOST_PROCESSES),
            ProcessInstance.status == "completed",
            InstanceVariable.name == "loss_reason",
            InstanceVariable.value.is_not(None),
            InstanceVariable.value != "",
        )
        .group_by(ProcessInstance.key, InstanceVariable.value)
        .order_by(func.count().desc(), InstanceVariable.value)
    ).all()
    return {
        "reasons": [
            {"reason": reason, "process": key, "count": int(count)} for key, reason, count in rows
        ]
    }
