"""What the modeler offers to choose from: operators, groups, form files, new-process templates.

All of it goes into the modeler page once (as JSON), so the properties panel needs no
round trip to fill its lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import service
from engine.models import ProcessDefinition, UserGroup
from engine.operators import OPERATORS
from engine.parsing import UI_SCHEMA_SUFFIXES

# A process key is the BPMN process id: an XML NCName, kept to what URLs carry plainly.
KEY_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")
MAX_CATALOG_FORMS = 200


def operators() -> list[dict[str, Any]]:
    """Every registered operator with its documented parameters, sorted by id."""
    found = []
    for op in OPERATORS:
        parameters = [
            {
                "name": name,
                "type": text.removesuffix(" (optional)"),
                "required": not text.endswith("(optional)"),
            }
            for name, text in op.parameters.items()
        ]
        found.append(
            {
                "id": op.id,
                "description": op.description,
                "inline": op.inline,
                "parameters": parameters,
                "max_attempts": op.max_attempts,
                "backoff_base": op.backoff_base,
            }
        )
    return found


def groups(session: Session) -> list[str]:
    """Group names lanes and candidate groups may use."""
    return list(session.scalars(select(UserGroup.name).order_by(UserGroup.name)))


def is_ui_schema(name: str) -> bool:
    """True for a UI-schema file name (`*-uischema.json`), as the parser decides it."""
    return name.lower().endswith(UI_SCHEMA_SUFFIXES)


def known_forms(session: Session) -> dict[str, str]:
    """Form files ({name: JSON text}) of the latest version of every process."""
    forms: dict[str, str] = {}
    for definition in service.list_definitions(session):
        for name, text in sorted((definition.resources or {}).items()):
            if name.endswith(".json") and len(forms) < MAX_CATALOG_FORMS:
                forms.setdefault(PurePosixPath(name).name, str(text))
    return forms


def bundle(definition: ProcessDefinition) -> dict[str, Any]:
    """A deployed version as the modeler opens it: its BPMN plus every other file it needs."""
    resources = {name: str(text) for name, text in (definition.resources or {}).items()}
    bpmn_name = next(
        (name for name, text in resources.items() if text == definition.bpmn_xml),
        f"{definition.key}.bpmn",
    )
    resources.pop(bpmn_name, None)
    forms = {name: text for name, text in resources.items() if name.endswith(".json")}
    others = {name: text for name, text in resources.items() if name not in forms}
    return {
        "key": definition.key,
        "name": definition.name,
        "version": definition.version,
        "file": bpmn_name,
        "xml": definition.bpmn_xml,
        "forms": forms,
        "others": others,
    }


# --- templates of new processes -----------------------------------------------------------

Box = tuple[str, int, int, int, int]  # element id, x, y, width, height
Edge = tuple[str, tuple[tuple[int, int], ...]]  # flow id, waypoints


@dataclass(frozen=True)
class Template:
    """A starting diagram for a new process: its flow elements and where they are drawn."""

    id: str
    body: str  # the flow elements; {start}, {done}, ... are the localized names
    shapes: tuple[Box, ...]
    edges: tuple[Edge, ...]
    labels: tuple[Box, ...] = ()  # where an element's name goes, when not below it

    def diagram(self) -> str:
        """The BPMNShape and BPMNEdge elements of the template."""
        labels = {i: (x, y, w, h) for i, x, y, w, h in self.labels}
        lines = []
        for i, x, y, w, h in self.shapes:
            label = ""
            if i in labels:
                lx, ly, lw, lh = labels[i]
                bounds = f'<dc:Bounds x="{lx}" y="{ly}" width="{lw}" height="{lh}" />'
                label = f"<bpmndi:BPMNLabel>{bounds}</bpmndi:BPMNLabel>"
            lines.append(
                f'<bpmndi:BPMNShape id="{i}_di" bpmnElement="{i}">'
                f'<dc:Bounds x="{x}" y="{y}" width="{w}" height="{h}" />{label}</bpmndi:BPMNShape>'
            )
        for flow, points in self.edges:
            waypoints = "".join(f'<di:waypoint x="{x}" y="{y}" />' for x, y in points)
            edge = f'<bpmndi:BPMNEdge id="{flow}_di" bpmnElement="{flow}">'
            lines.append(f"{edge}{waypoints}</bpmndi:BPMNEdge>")
        return "\n      ".join(["", *lines])


def _event(tag: str, element_id: str, name: str, **flows: str) -> str:
    refs = "".join(f"<bpmn:{kind}>{flow}</bpmn:{kind}>" for kind, flow in flows.items())
    return f'\n    <bpmn:{tag} id="{element_id}" name="{name}">{refs}</bpmn:{tag}>'


def _flow(flow_id: str, source: str, target: str, extra: str = "") -> str:
    return (
        f'\n    <bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"{extra}'
    )


TEMPLATES: dict[str, Template] = {
    "blank": Template(
        "blank",
        _event("startEvent", "start", "{start}", outgoing="flow_start_end")
        + _event("endEvent", "end", "{done}", incoming="flow_start_end")
        + _flow("flow_start_end", "start", "end", " />"),
        (("start", 182, 142, 36, 36), ("end", 402, 142, 36, 36)),
        (("flow_start_end", ((218, 160), (402, 160))),),
    ),
    "approval": Template(
        "approval",
        _event("startEvent", "start", "{request}", outgoing="flow_start_review")
        + """
    <bpmn:userTask id="review" name="{review}">
      <bpmn:extensionElements>
        <spiffworkflow:instructionsForEndUser>{review_help}</spiffworkflow:instructionsForEndUser>
      </bpmn:extensionElements>
      <bpmn:incoming>flow_start_review</bpmn:incoming>
      <bpmn:outgoing>flow_review_gw</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="gw_approved" name="{approved_q}" default="flow_rejected">
      <bpmn:incoming>flow_review_gw</bpmn:incoming>
      <bpmn:outgoing>flow_approved</bpmn:outgoing>
      <bpmn:outgoing>flow_rejected</bpmn:outgoing>
    </bpmn:exclusiveGateway>"""
        + _event("endEvent", "end_approved", "{approved}", incoming="flow_approved")
        + _event("endEvent", "end_rejected", "{rejected}", incoming="flow_rejected")
        + _flow("flow_start_review", "start", "review", " />")
        + _flow("flow_review_gw", "review", "gw_approved", " />")
        + _flow("flow_approved", "gw_approved", "end_approved", ' name="{yes}">')
        + """
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">approved == True\
</bpmn:conditionExpression>
    </bpmn:sequenceFlow>"""
        + _flow("flow_rejected", "gw_approved", "end_rejected", ' name="{no}" />'),
        (
            ("start", 182, 142, 36, 36),
            ("review", 280, 120, 100, 80),
            ("gw_approved", 445, 135, 50, 50),
            ("end_approved", 562, 142, 36, 36),
            ("end_rejected", 562, 252, 36, 36),
        ),
        (
            ("flow_start_review", ((218, 160), (280, 160))),
            ("flow_review_gw", ((380, 160), (445, 160))),
            ("flow_approved", ((495, 160), (562, 160))),
            ("flow_rejected", ((470, 185), (470, 270), (562, 270))),
        ),
        labels=(("gw_approved", 430, 112, 80, 14),),
    ),
    "service": Template(
        "service",
        _event("startEvent", "start", "{start}", outgoing="flow_start_call")
        + """
    <bpmn:serviceTask id="call" name="{call}">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="" resultVariable="result">
          <spiffworkflow:parameters />
          <spiffworkflow:retry retries="3" backoff_base="2" />
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>flow_start_call</bpmn:incoming>
      <bpmn:outgoing>flow_call_end</bpmn:outgoing>
    </bpmn:serviceTask>"""
        + _event("endEvent", "end", "{done}", incoming="flow_call_end")
        + _flow("flow_start_call", "start", "call", " />")
        + _flow("flow_call_end", "call", "end", " />"),
        (("start", 182, 142, 36, 36), ("call", 280, 120, 100, 80), ("end", 442, 142, 36, 36)),
        (
            ("flow_start_call", ((218, 160), (280, 160))),
            ("flow_call_end", ((380, 160), (442, 160))),
        ),
    ),
}

_DOCUMENT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" \
xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
xmlns:di="http://www.omg.org/spec/DD/20100524/DI" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" \
id="Definitions_{key}" targetNamespace="http://potok.example/bpmn" \
exporter="potok" exporterVersion="1.0">
  <bpmn:process id="{key}" name={name} isExecutable="true">{body}
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_{key}">
    <bpmndi:BPMNPlane id="BPMNPlane_{key}" bpmnElement="{key}">{shapes}
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


# The names of a template's elements, in the analyst's language.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "start": "Start",
        "done": "Done",
        "request": "Request",
        "review": "Review the request",
        "review_help": "Check the request and decide.",
        "approved_q": "Approved?",
        "approved": "Approved",
        "rejected": "Rejected",
        "yes": "yes",
        "no": "no",
        "call": "Call a service",
    },
    "ru": {
        "start": "Старт",
        "done": "Готово",
        "request": "Заявка",
        "review": "Рассмотреть заявку",
        "review_help": "Проверьте заявку и примите решение.",
        "approved_q": "Одобрено?",
        "approved": "Одобрено",
        "rejected": "Отклонено",
        "yes": "да",
        "no": "нет",
        "call": "Вызвать сервис",
    },
}


def new_process(template_id: str, *, key: str, name: str, locale: str = "ru") -> dict[str, Any]:
    """A new process from a template, shaped like `bundle()` (version None: not deployed)."""
    if not KEY_PATTERN.match(key):
        raise ValueError(f"invalid process key {key!r}")
    template = TEMPLATES.get(template_id) or TEMPLATES["blank"]
    labels = {k: escape(v) for k, v in LABELS.get(locale, LABELS["en"]).items()}
    xml = _DOCUMENT.format(
        key=key,
        name=quoteattr(name or key),
        body=template.body.format(**labels),
        shapes=template.diagram(),
    )
    return {
        "key": key,
        "name": name or key,
        "version": None,
        "file": f"{key}.bpmn",
        "xml": xml,
        "forms": {},
        "others": {},
    }


def key_taken(session: Session, key: str) -> bool:
    """True if a process with this key is deployed."""
    stmt = select(ProcessDefinition.id).where(ProcessDefinition.key == key).limit(1)
    return session.scalar(stmt) is not None
