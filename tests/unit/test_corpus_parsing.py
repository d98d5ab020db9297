"""parse_bundle over third-party BPMN/DMN files (../shared/corpus), good and broken.

Two promises are checked for every file:
- parse_bundle never raises, and answers with processes or with errors that say something;
- parity with raw SpiffWorkflow: a file that SpiffWorkflow's own parser for its dialect parses
  (add_bpmn_xml + get_spec for each executable process, no XSD validator) deploys, and a file
  it rejects does not.

One deliberate difference: potok also needs the form files a Spiff user task names
(`formJsonSchemaFilename`, `formUiSchemaFilename`); raw SpiffWorkflow never reads them. Two
corpus files name forms the corpus does not have, so the parity check uploads each file with
a minimal JSON Schema for every form it names — what a user would upload — and a separate
test pins down that without them the only errors are the missing forms.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.parsing import NSMAP, detect_dialect, parse_bundle

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
if not CORPUS.is_dir():
    pytest.skip(f"corpus of third-party BPMN files not found at {CORPUS}", allow_module_level=True)

FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "SOURCES.txt")
IDS = [str(p.relative_to(CORPUS)) for p in FILES]
RAW_PARSERS = {"spiff": SpiffBpmnParser, "camunda": CamundaParser}
FORM_XPATH = (
    "//spiffworkflow:properties/spiffworkflow:property"
    "[@name='formJsonSchemaFilename' or @name='formUiSchemaFilename']/@value"
)


def raw_process_ids(data: bytes) -> list[str] | None:
    """Executable process ids raw SpiffWorkflow parses from `data`, or None if it fails."""
    try:
        root = etree.fromstring(data)
        parser = RAW_PARSERS[detect_dialect(root)]()
        parser.add_bpmn_xml(root, "corpus")
        ids = parser.get_process_ids()
        for process_id in ids:
            parser.get_spec(process_id)
    except Exception:
        return None
    return ids or None


def form_names(data: bytes) -> list[str]:
    """The form files a Spiff file's user tasks name."""
    try:
        return sorted(set(etree.fromstring(data).xpath(FORM_XPATH, namespaces=NSMAP)))
    except etree.LxmlError:
        return []


def with_forms(path: Path) -> list[tuple[str, bytes]]:
    """The file plus a minimal JSON Schema for each form it names."""
    data = path.read_bytes()
    stub = json.dumps({"type": "object"}).encode()
    return [(path.name, data)] + [(name, stub) for name in form_names(data)]


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_never_raises_and_always_answers(path: Path) -> None:
    result = parse_bundle([(path.name, path.read_bytes())])
    assert result.processes or result.errors
    for issue in [*result.errors, *result.warnings]:
        assert issue.msg.strip()
        assert issue.file in {path.name, ""}
        assert issue.line is None or issue.line > 0


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_parity_with_raw_spiffworkflow(path: Path) -> None:
    raw_ids = raw_process_ids(path.read_bytes())
    result = parse_bundle(with_forms(path))
    if raw_ids is None:
        assert not result.ok, "raw SpiffWorkflow rejects this file, so must potok"
        return
    assert result.ok, result.errors
    assert sorted(p.key for p in result.processes) == sorted(raw_ids)


@pytest.mark.parametrize(
    "path",
    [p for p in FILES if p.suffix == ".bpmn" and form_names(p.read_bytes())],
    ids=lambda p: p.name,
)
def test_without_named_forms_only_the_forms_are_missing(path: Path) -> None:
    result = parse_bundle([(path.name, path.read_bytes())])
    assert result.errors
    for error in result.errors:
        assert error.element_id and error.line
        assert "is not in the uploaded files" in error.msg
