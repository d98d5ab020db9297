"""What changed between two versions of a diagram: elements added, removed and changed.

Only what bpmn-js draws is compared (every element a BPMNShape or BPMNEdge points at), by
id. An element counts as changed when its own attributes, texts or extension elements
differ, or the message/error/signal it refers to changed; moving it on the canvas does not
count, and neither do its incoming/outgoing references (a new flow shows up as added).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from engine.parsing import BPMN_NS, parse_xml

DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
# References that only say how elements are wired or laid out, not what they do.
_WIRING = frozenset(f"{{{BPMN_NS}}}{name}" for name in ("incoming", "outgoing", "flowNodeRef"))
_ROOT_REFERENCES = ("messageRef", "errorRef", "signalRef", "escalationRef")


@dataclass(frozen=True)
class ChangedElement:
    """One element that differs, with its name in the version that has it."""

    element_id: str
    name: str
    kind: str


@dataclass
class DiagramDiff:
    """Ids added in the newer version, removed from the older one, changed in both."""

    added: list[ChangedElement] = field(default_factory=list)
    removed: list[ChangedElement] = field(default_factory=list)
    changed: list[ChangedElement] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def as_dict(self) -> dict[str, list[str]]:
        """Element ids per kind of change, for the viewers' markers."""
        return {
            "added": [e.element_id for e in self.added],
            "removed": [e.element_id for e in self.removed],
            "changed": [e.element_id for e in self.changed],
        }


def _drawn(root: Any) -> dict[str, Any]:
    ids = {
        node.get("bpmnElement")
        for node in root.iter(f"{{{DI_NS}}}BPMNShape", f"{{{DI_NS}}}BPMNEdge")
        if node.get("bpmnElement")
    }
    return {
        el.get("id"): el
        for el in root.iter()
        if isinstance(el.tag, str) and el.get("id") in ids and _in_bpmn(el)
    }


def _in_bpmn(element: Any) -> bool:
    return etree.QName(element).namespace == BPMN_NS


def _shape(element: Any, drawn: set[str]) -> tuple[Any, ...]:
    """A comparable picture of `element`, leaving out separately drawn children and wiring."""
    children = tuple(
        _shape(child, drawn)
        for child in element
        if isinstance(child.tag, str)
        and child.tag not in _WIRING
        and not (child.get("id") in drawn and _in_bpmn(child))
    )
    attributes = tuple(sorted((k, v) for k, v in element.attrib.items() if k != "id"))
    return (element.tag, attributes, (element.text or "").strip(), children)


def _referenced(root: Any, element: Any) -> tuple[Any, ...]:
    """The root elements (messages, errors, ...) that `element` or its children refer to."""
    by_id = {child.get("id"): child for child in root if isinstance(child.tag, str)}
    found = []
    for node in element.iter():
        for attribute in _ROOT_REFERENCES:
            target = by_id.get(node.get(attribute) or "")
            if target is not None:
                found.append(_shape(target, set()))
    return tuple(found)


def _describe(element: Any) -> ChangedElement:
    return ChangedElement(
        element_id=element.get("id"),
        name=(element.get("name") or "").strip(),
        kind=etree.QName(element).localname,
    )


def diff_diagrams(old_xml: str, new_xml: str) -> DiagramDiff:
    """Compare two BPMN documents element by element (ids are the identity)."""
    old_root, new_root = parse_xml(old_xml), parse_xml(new_xml)
    old, new = _drawn(old_root), _drawn(new_root)
    result = DiagramDiff()
    for element_id, element in new.items():
        if element_id not in old:
            result.added.append(_describe(element))
            continue
        before = (_shape(old[element_id], set(old)), _referenced(old_root, old[element_id]))
        after = (_shape(element, set(new)), _referenced(new_root, element))
        if before != after:
            result.changed.append(_describe(element))
    result.removed = [_describe(e) for element_id, e in old.items() if element_id not in new]
    return result
