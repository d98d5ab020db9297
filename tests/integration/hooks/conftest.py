"""Fixtures for the webhook tests: the real app on each database, small waiting processes,
connector clients answered by a scripted vendor (for the hooks that re-fetch)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.hooks.settings import HookSettings
from engine import service
from engine.db import session_scope
from engine.models import InboundEvent, ProcessInstance
from engine.settings import Settings
from handlers.clients import Clients, use_clients
from handlers.settings import HandlerSettings
from tests.unit.handlers.conftest import FakeVendor

YOOKASSA_ADDRESS = ("185.71.76.5", 44321)  # inside YooKassa's published networks


def waiting_bpmn(key: str, message: str, keys: tuple[str, ...], *, start_on: bool) -> bytes:
    """A process that waits once for `message` correlated on `keys` (started by the message
    itself when `start_on`), then ends; the payloads land in `first` and `reply`."""
    props = "".join(
        f'<bpmn:correlationProperty id="{name}" name="{name}">'
        f'<bpmn:correlationPropertyRetrievalExpression messageRef="msg">'
        f"<bpmn:messagePath>{name}</bpmn:messagePath>"
        f"</bpmn:correlationPropertyRetrievalExpression></bpmn:correlationProperty>"
        for name in keys
    )
    start = (
        '<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing>'
        '<bpmn:messageEventDefinition id="start_def" messageRef="msg"><bpmn:extensionElements>'
        "<spiffworkflow:messageVariable>first</spiffworkflow:messageVariable>"
        "</bpmn:extensionElements></bpmn:messageEventDefinition></bpmn:startEvent>"
        if start_on
        else '<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>'
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  id="Definitions_{key}" targetNamespace="http://potok.example/bpmn">
  <bpmn:message id="msg" name="{message}" />
  {props}
  <bpmn:process id="{key}" name="{key}" isExecutable="true">
    {start}
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:receiveTask id="wait" name="Wait" messageRef="msg">
      <bpmn:extensionElements>
        <spiffworkflow:messageVariable>reply</spiffworkflow:messageVariable>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:receiveTask>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
""".encode()


class Hooks:
    """The app under test, its database, and what its hooks recorded."""

    def __init__(self, app: FastAPI, factory: sessionmaker[Session], vendor: FakeVendor) -> None:
        self.app = app
        self.factory = factory
        self.vendor = vendor
        self.http = TestClient(app)

    def client(self, address: tuple[str, int]) -> TestClient:
        return TestClient(self.app, client=address)

    def deploy(self, key: str, message: str, keys: tuple[str, ...], start_on: bool) -> None:
        with session_scope(self.factory) as session:
            bpmn = waiting_bpmn(key, message, keys, start_on=start_on)
            service.deploy(session, files=[(f"{key}.bpmn", bpmn)], deployed_by="tests")

    def start(self, key: str, **variables: Any) -> str:
        with session_scope(self.factory) as session:
            return service.start_instance(session, key=key, variables=variables).id

    def instances(self, key: str) -> list[ProcessInstance]:
        with session_scope(self.factory) as session:
            stmt = select(ProcessInstance).where(ProcessInstance.key == key)
            return list(session.scalars(stmt.order_by(ProcessInstance.created_at)))

    def events(self, source: str) -> list[InboundEvent]:
        with session_scope(self.factory) as session:
            stmt = select(InboundEvent).where(InboundEvent.source == source)
            return list(session.scalars(stmt.order_by(InboundEvent.id)))

    def event_count(self) -> int:
        with session_scope(self.factory) as session:
            return int(session.scalar(select(func.count()).select_from(InboundEvent)) or 0)


@pytest.fixture
def vendor() -> FakeVendor:
    return FakeVendor()


@pytest.fixture
def hooks(session_factory: sessionmaker[Session], vendor: FakeVendor) -> Iterator[Hooks]:
    settings = Settings(env="test", broker_url="", _env_file=None)  # type: ignore[call-arg]
    app = create_app(settings=settings, session_factory=session_factory)
    app.state.hook_settings = HookSettings(_env_file=None)  # type: ignore[call-arg]
    handler_settings = HandlerSettings(_env_file=None)  # type: ignore[call-arg]
    with use_clients(Clients(handler_settings, transport=httpx.MockTransport(vendor))):
        yield Hooks(app, session_factory, vendor)
