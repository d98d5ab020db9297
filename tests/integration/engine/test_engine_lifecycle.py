"""Deploy, start, complete, history, terminate — through the engine API on real databases."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from engine import service
from engine.db import session_scope
from engine.errors import (
    FormValidationError,
    InstanceFinished,
    NotFoundError,
    PermissionDenied,
    TaskAlreadyClaimed,
    TaskAlreadyCompleted,
)
from engine.models import HumanTask, InstanceVariable, ProcessDefinition, ProcessInstance
from tests.integration.engine.conftest import ACCOUNTANT, MANAGER, REVIEW_FILES, fixture_files


def _start_review(factory: sessionmaker[Session], amount: int = 70) -> tuple[str, str]:
    with session_scope(factory) as session:
        instance = service.start_instance(
            session, key="review", variables={"amount": amount}, business_key="Q-7", actor=MANAGER
        )
        task = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)).one()
        return instance.id, task.id


def test_deploy_versions_by_content_hash(
    session_factory: sessionmaker[Session], deploy: Callable[..., service.DeployOutcome]
) -> None:
    first = deploy(*REVIEW_FILES)
    again = deploy(*REVIEW_FILES)
    assert [(d.key, d.version, d.created) for d in first.deployed] == [("review", 1, True)]
    assert [(d.version, d.created) for d in again.deployed] == [(1, False)]
    files = fixture_files(*REVIEW_FILES)
    files[1] = ("review-schema.json", files[1][1].replace(b"500", b"400"))
    with session_scope(session_factory) as session:
        changed = service.deploy(session, files=files, deployed_by="tests")
    assert [(d.version, d.created) for d in changed.deployed] == [(2, True)]
    assert changed.deployed[0].content_hash != first.deployed[0].content_hash
    with session_scope(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(ProcessDefinition)) == 2


def test_start_runs_to_the_user_task_and_projects_it(
    session_factory: sessionmaker[Session], deploy: Callable[..., service.DeployOutcome]
) -> None:
    deploy(*REVIEW_FILES)
    instance_id, task_id = _start_review(session_factory)
    with session_scope(session_factory) as session:
        instance = service.get_instance_or_raise(session, instance_id=instance_id)
        shown = service.describe_instance(session, instance=instance)
        task = service.get_task_or_raise(session, task_id=task_id)
        indexed = dict(
            session.execute(
                select(InstanceVariable.name, InstanceVariable.value).where(
                    InstanceVariable.instance_id == instance_id
                )
            ).all()
        )
    assert shown["status"] == "waiting"
    assert shown["business_key"] == "Q-7"
    assert shown["variables"] == {"amount": 70, "total": 140, "accepted_by": "system"}
    assert [a["element_id"] for a in shown["active"]] == ["review_order"]
    assert task.candidate_groups == ["managers"] and task.state == "open"
    assert task.form["schema"]["required"] == ["decision", "size"]
    assert task.form["ui_schema"]["accepted_by"] == {"ui:readonly": True}
    assert task.instructions == "Check the **order**."
    assert indexed == {"amount": "70", "total": "140", "accepted_by": "system"}
    # the stored state carries no spec: specs live once on the definition
    assert "spec" not in instance.state and "subprocess_specs" not in instance.state


def test_complete_validates_form_and_records_history(
    session_factory: sessionmaker[Session], deploy: Callable[..., service.DeployOutcome]
) -> None:
    deploy(*REVIEW_FILES)
    instance_id, task_id = _start_review(session_factory)
    with pytest.raises(FormValidationError) as bad, session_scope(session_factory) as session:
        service.complete_task(session, task_id=task_id, data={"size": 99}, actor=MANAGER)
    locations = sorted(tuple(d["loc"]) for d in bad.value.details)
    assert locations == [("data", "decision"), ("data", "size")]
    with session_scope(session_factory) as session:
        task, instance = service.complete_task(
            session,
            task_id=task_id,
            data={"decision": "approve", "size": 44, "accepted_by": "hacker"},
            actor=MANAGER,
        )
        assert instance.status == "completed" and task.completed_by == "maria"
    with session_scope(session_factory) as session:
        history = service.list_history(session, instance_id=instance_id)
        instance = service.get_instance_or_raise(session, instance_id=instance_id)
    done = next(e for e in history if e.type == "task_completed")
    assert done.actor == "maria" and done.element_id == "review_order"
    assert done.changes == {"decision": [None, "approve"], "size": [None, 44]}
    # read-only field: the process-set value survived the attempt to overwrite it
    assert instance.variables["accepted_by"] == "system"
    elements = [e.element_id for e in history if e.type == "element_completed"]
    assert elements[:3] == ["start", "prepare", "route"] and elements[-1] == "end"


def test_permissions_and_conflicts_on_tasks(
    session_factory: sessionmaker[Session], deploy: Callable[..., service.DeployOutcome]
) -> None:
    deploy(*REVIEW_FILES)
    _, task_id = _start_review(session_factory)
    with pytest.raises(PermissionDenied), session_scope(session_factory) as session:
        service.claim_task(session, task_id=task_id, actor=ACCOUNTANT)
    with session_scope(session_factory) as session:
        assert service.claim_task(session, task_id=task_id, actor=MANAGER).assignee == "maria"
    other = MANAGER.__class__("ivan", groups=frozenset({"managers"}))
    with pytest.raises(TaskAlreadyClaimed), session_scope(session_factory) as session:
        service.claim_task(session, task_id=task_id, actor=other)
    with session_scope(session_factory) as session:
        service.complete_task(
            session, task_id=task_id, data={"decision": "reject", "size": 40}, actor=MANAGER
        )
    with pytest.raises(TaskAlreadyCompleted), session_scope(session_factory) as session:
        service.complete_task(
            session, task_id=task_id, data={"decision": "reject", "size": 40}, actor=MANAGER
        )
    with pytest.raises(NotFoundError), session_scope(session_factory) as session:
        service.get_task_or_raise(session, task_id="nope")


def test_terminate_cancels_open_tasks(
    session_factory: sessionmaker[Session], deploy: Callable[..., service.DeployOutcome]
) -> None:
    deploy(*REVIEW_FILES)
    instance_id, task_id = _start_review(session_factory)
    with session_scope(session_factory) as session:
        instance = service.terminate_instance(session, instance_id=instance_id, actor=MANAGER)
        assert instance.status == "terminated" and instance.ended_at is not None
    with session_scope(session_factory) as session:
        assert service.get_task_or_raise(session, task_id=task_id).state == "cancelled"
    with pytest.raises(InstanceFinished), session_scope(session_factory) as session:
        service.terminate_instance(session, instance_id=instance_id, actor=MANAGER)


def test_script_error_becomes_an_incident(
    session_factory: sessionmaker[Session], deploy: Callable[..., service.DeployOutcome]
) -> None:
    deploy(*REVIEW_FILES)
    with session_scope(session_factory) as session:
        # `amount` missing: the script raises NameError inside the engine
        instance = service.start_instance(session, key="review", variables={})
        shown = service.describe_instance(session, instance=instance)
    assert shown["status"] == "error"
    assert shown["incidents"][0]["element_id"] == "prepare"
    assert "amount" in shown["incidents"][0]["message"]
    with session_scope(session_factory) as session:
        assert session.get(ProcessInstance, instance.id) is not None


def test_diagram_marks_completed_and_active(
    session_factory: sessionmaker[Session], deploy: Callable[..., service.DeployOutcome]
) -> None:
    deploy(*REVIEW_FILES)
    instance_id, _ = _start_review(session_factory)
    with session_scope(session_factory) as session:
        diagram = service.instance_diagram(session, instance_id=instance_id)
    assert diagram["active"] == ["review_order"]
    assert {"start", "prepare", "route"} <= set(diagram["completed"])
    assert diagram["xml"].startswith("<?xml")


def test_sandboxed_script_escape_is_an_incident_not_an_escape(
    session_factory: sessionmaker[Session], deploy: Callable[..., service.DeployOutcome]
) -> None:
    """A deployed script runs in the sandbox: `import os` fails as a clear incident."""
    files = fixture_files(*REVIEW_FILES)
    files[0] = ("review.bpmn", files[0][1].replace(b"total = amount * 2", b"import os"))
    with session_scope(session_factory) as session:
        service.deploy(session, files=files, deployed_by="tests")
        instance = service.start_instance(session, key="review", variables={"amount": 1})
        shown = service.describe_instance(session, instance=instance)
    assert shown["status"] == "error"
    assert "import" in shown["incidents"][0]["message"].lower()
    assert "os" not in shown["variables"]


def test_money_and_dates_survive_storage(
    session_factory: sessionmaker[Session], deploy: Callable[..., service.DeployOutcome]
) -> None:
    """Decimal and date values made by scripts come back as such after a round trip."""
    files = fixture_files(*REVIEW_FILES)
    script = b"total = money(amount) * 2\naccepted_by = 'system'\nday = date(2026, 12, 1)"
    files[0] = (
        "review.bpmn",
        files[0][1].replace(b'total = amount * 2\naccepted_by = "system"', script),
    )
    with session_scope(session_factory) as session:
        service.deploy(session, files=files, deployed_by="tests")
        instance_id = service.start_instance(session, key="review", variables={"amount": 745}).id
    with session_scope(session_factory) as session:
        uow = service.open_unit_of_work(session, instance_id)
        data = uow.workflow.get_tasks(state=16)[0].data  # READY
        assert str(data["total"]) == "1490.00" and data["day"].isoformat() == "2026-12-01"
        shown = service.get_instance_or_raise(session, instance_id=instance_id)
        assert shown.variables["total"] == "1490.00" and shown.variables["day"] == "2026-12-01"


def _changed_review_files(limit: bytes) -> list[tuple[str, bytes]]:
    files = fixture_files(*REVIEW_FILES)
    files[1] = ("review-schema.json", files[1][1].replace(b"500", limit))
    return files


def test_a_start_after_another_process_deployed_runs_the_new_version(
    session_factory: sessionmaker[Session], deploy: Callable[..., service.DeployOutcome]
) -> None:
    # The latest version is remembered per database; a deploy by any process must win at once.
    deploy(*REVIEW_FILES)
    first_id, _ = _start_review(session_factory)
    with session_scope(session_factory) as session:
        service.deploy(session, files=_changed_review_files(b"400"), deployed_by="other")
    second_id, _ = _start_review(session_factory)
    with session_scope(session_factory) as session:
        versions = session.execute(select(ProcessInstance.id, ProcessInstance.version)).all()
    # Exactly two instances: the start that found its remembered version stale wrote nothing.
    assert sorted(versions, key=lambda row: row[1]) == [(first_id, 1), (second_id, 2)]


def test_a_start_after_the_definitions_were_replaced_uses_the_stored_one(
    session_factory: sessionmaker[Session], deploy: Callable[..., service.DeployOutcome]
) -> None:
    # Same key and version number, different row and content (a restored or reset database).
    deploy(*REVIEW_FILES)
    _start_review(session_factory)
    with session_scope(session_factory) as session:
        session.execute(ProcessInstance.__table__.delete())
        session.execute(ProcessDefinition.__table__.delete())
    with session_scope(session_factory) as session:
        files = _changed_review_files(b"300")
        replaced = service.deploy(session, files=files, deployed_by="tests").deployed[0]
    instance_id, _ = _start_review(session_factory)
    with session_scope(session_factory) as session:
        instance = service.get_instance_or_raise(session, instance_id=instance_id)
        definition = session.get(ProcessDefinition, instance.definition_id)
        assert definition is not None and definition.content_hash == replaced.content_hash


def test_a_remembered_definition_id_now_naming_another_process_is_not_used(
    session_factory: sessionmaker[Session], deploy: Callable[..., service.DeployOutcome]
) -> None:
    # One file, two processes, one content hash. After a reset the remembered id of
    # await_payment names the file's other process: the start must not run under it.
    deploy(*REVIEW_FILES)
    deploy("messages.bpmn")
    with session_scope(session_factory) as session:
        remembered = service.start_instance(session, key="await_payment").definition_id
        tables = "process_definition, process_instance"
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:  # SQLite hands out max(id) + 1 again once the rows are gone
            session.execute(ProcessInstance.__table__.delete())
            session.execute(ProcessDefinition.__table__.delete())
    deploy("messages.bpmn")
    with session_scope(session_factory) as session:
        taken = session.get(ProcessDefinition, remembered)
        assert taken is not None and taken.key != "await_payment"  # the trap is set
        instance = service.start_instance(session, key="await_payment")
        definition = session.get(ProcessDefinition, instance.definition_id)
        assert definition is not None and definition.key == "await_payment"
