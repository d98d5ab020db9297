"""Uploaded BPMN, DMN and form files → validated SpiffWorkflow specs, or element-level issues.

A pure layer (no database):

- `parse_bundle(files)` never raises: every problem becomes a `DeployIssue` (file, element id,
  line, message) in `ParseResult.errors` or `.warnings`.
- `parse_resources(resources, key)` parses a stored definition again (the spec cache calls it on
  a miss) and raises `DeploymentError` when that fails.
- `SpecCache` keeps parsed definitions in memory, LRU-bounded, by (content hash, key).

The pipeline of `parse_bundle`:

1. load   size limit, UTF-8, safe XML (no DTD, no entities, no network), BPMN/DMN by the root
          element, forms (`.json`) as JSON Schema or UI schema.
2. xsd    SpiffWorkflow's `BpmnValidator` schemas, reported as warnings only: raw SpiffWorkflow
          parses files its own XSD rejects (e.g. bpmn-js output with odd DI ids), and what raw
          SpiffWorkflow parses must deploy.
3. parse  one SpiffWorkflow parser per dialect (Spiff, or Camunda when the file uses the Camunda
          namespace); `get_spec` for each executable process.
4. check  potok's semantic rules on each process and the subprocesses it needs.
5. pack   the files each process needs (its BPMN, called BPMN, DMN, forms) and their hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.dmn.parser.BpmnDmnParser import BpmnDmnParser
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SPIFF_XSD

from engine.errors import DeploymentError
from engine.spiff_ext import PotokBpmnParser

logger = logging.getLogger(__name__)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = frozenset(
    [
        *DMN_SCHEMAS,
        "http://www.omg.org/spec/DMN/20180521/MODEL/",
        "https://www.omg.org/spec/DMN/20191111/MODEL/",
        "https://www.omg.org/spec/DMN/20230324/MODEL/",
    ]
)
NSMAP = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS, "camunda": CAMUNDA_NS}
DIALECTS = ("spiff", "camunda")
UI_SCHEMA_SUFFIXES = ("-uischema.json", ".uischema.json")
XML_SUFFIXES = (".bpmn", ".dmn", ".xml")
MAX_XSD_WARNINGS = 10
# Stored definitions were size-checked when deployed; re-parsing them must not fail on size.
_NO_LIMIT = 1 << 62

# The SpiffWorkflow parser class of each dialect; the Spiff one carries potok's service task
# in its OVERRIDE_PARSER_CLASSES (engine/spiff_ext.py). Tests may swap one via set_parser_class.
PARSER_CLASSES: dict[str, type[BpmnDmnParser]] = {
    "spiff": PotokBpmnParser,
    "camunda": CamundaParser,
}


def _tag(local: str) -> str:
    return f"{{{BPMN_NS}}}{local}"


GATEWAYS_NEEDING_OUTGOING = {
    _tag("exclusiveGateway"): "exclusive gateway",
    _tag("inclusiveGateway"): "inclusive gateway",
    _tag("eventBasedGateway"): "event-based gateway",
}
FLOW_NODE_TAGS = frozenset(
    _tag(name)
    for name in [
        *["startEvent", "intermediateCatchEvent", "intermediateThrowEvent"],
        *["task", "userTask", "manualTask", "serviceTask", "scriptTask", "businessRuleTask"],
        *["sendTask", "receiveTask", "callActivity", "subProcess", "transaction"],
        *["adHocSubProcess", "exclusiveGateway", "inclusiveGateway", "parallelGateway"],
        *["eventBasedGateway", "complexGateway"],
    ]
)
FORK_TAGS = frozenset([_tag("parallelGateway"), _tag("inclusiveGateway")])
EVENT_TAGS = frozenset(
    _tag(name)
    for name in ("startEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent")
)
MESSAGE_CATCH_TAGS = frozenset(
    _tag(name) for name in ("startEvent", "intermediateCatchEvent", "boundaryEvent")
)
TIMER_CHILDREN = ("timeDate", "timeDuration", "timeCycle")
FORM_PROPERTIES = ("formJsonSchemaFilename", "formUiSchemaFilename")


# --- public types -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployIssue:
    """One error or warning about an uploaded file, shaped for the API's `details`."""

    file: str
    element_id: str | None
    line: int | None
    msg: str

    def as_dict(self) -> dict[str, Any]:
        """The API shape: {"file", "element_id", "line", "msg"}."""
        return {
            "file": self.file,
            "element_id": self.element_id,
            "line": self.line,
            "msg": self.msg,
        }


@dataclass
class ParsedProcess:
    """One executable process, parsed, with every file needed to parse it again."""

    key: str
    name: str
    dialect: str
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]
    bpmn_xml: str
    resources: dict[str, str]
    content_hash: str
    forms: dict[str, dict[str, Any]]


@dataclass
class ParseResult:
    """What `parse_bundle` found: deployable processes, errors and warnings."""

    processes: list[ParsedProcess] = field(default_factory=list)
    errors: list[DeployIssue] = field(default_factory=list)
    warnings: list[DeployIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing stops the deployment."""
        return not self.errors


def set_parser_class(dialect: str, parser_class: type[BpmnDmnParser]) -> None:
    """Use `parser_class` for `dialect` from now on (call at start-up, before any parsing)."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}; expected one of {DIALECTS}")
    PARSER_CLASSES[dialect] = parser_class


def content_hash(resources: dict[str, str]) -> str:
    """sha256 hex over the sorted (name, text) pairs: same content, same hash."""
    payload = json.dumps(sorted(resources.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# --- internal state of one parse ----------------------------------------------------------


@dataclass
class _Doc:
    name: str
    text: str
    root: Any  # lxml element
    kind: str  # "bpmn" | "dmn"
    dialect: str  # "spiff" | "camunda" ("" for DMN)


@dataclass
class _Form:
    name: str
    text: str
    data: dict[str, Any]


@dataclass
class _Issues:
    errors: list[DeployIssue] = field(default_factory=list)
    warnings: list[DeployIssue] = field(default_factory=list)

    def error(self, file: str, msg: str, node: Any = None, *, line: int | None = None) -> None:
        self.add_error(_issue(file, msg, node, line))

    def warning(self, file: str, msg: str, node: Any = None, *, line: int | None = None) -> None:
        issue = _issue(file, msg, node, line)
        if issue not in self.warnings:
            self.warnings.append(issue)

    def add_error(self, issue: DeployIssue) -> None:
        # The same DMN goes to each dialect's parser; report its problems once.
        if issue not in self.errors:
            self.errors.append(issue)


@dataclass
class _Bundle:
    docs: dict[str, _Doc] = field(default_factory=dict)
    forms: dict[str, _Form] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)  # every uploaded name, valid or not
    issues: _Issues = field(default_factory=_Issues)
    failed_docs: set[str] = field(default_factory=set)
    used_files: set[str] = field(default_factory=set)
    checked: set[tuple[str, str, bool]] = field(default_factory=set)


def _issue(file: str, msg: str, node: Any = None, line: int | None = None) -> DeployIssue:
    element_id = node.get("id") if node is not None else None
    if line is None and node is not None:
        line = node.sourceline
    return DeployIssue(file, element_id or None, line, msg)


# --- public functions ---------------------------------------------------------------------


def parse_bundle(
    files: list[tuple[str, bytes]],
    *,
    known_operators: set[str] | None = None,
    max_file_bytes: int = 5 * 1024 * 1024,
) -> ParseResult:
    """Parse and validate uploaded files; never raises, whatever the input."""
    bundle = _Bundle()
    processes: list[ParsedProcess] = []
    try:
        _load_all(bundle, files, max_file_bytes)
        processes = _parse_docs(bundle, known_operators, only_key=None)
        _warn_unused(bundle)
    except Exception:  # last resort: the API promises a 200 with errors, never a 500
        logger.exception("unexpected failure while parsing a bundle")
        bundle.issues.error("", "internal error while parsing the files; nothing was deployed")
        processes = []
    return ParseResult(processes, bundle.issues.errors, bundle.issues.warnings)


def parse_resources(resources: dict[str, str], key: str) -> ParsedProcess:
    """Parse a stored definition again; raises DeploymentError when it no longer parses."""
    bundle = _Bundle()
    files = [(name, text.encode("utf-8")) for name, text in sorted(resources.items())]
    try:
        _load_all(bundle, files, _NO_LIMIT)
        processes = _parse_docs(bundle, None, only_key=key)
    except Exception as exc:
        raise DeploymentError(f"could not parse stored definition '{key}': {exc!r}") from exc
    found = [process for process in processes if process.key == key]
    if bundle.issues.errors or not found:
        issues = bundle.issues.errors or [DeployIssue("", None, None, f"process '{key}' not found")]
        raise DeploymentError(
            f"stored definition '{key}' does not parse",
            details=[issue.as_dict() for issue in issues],
        )
    return found[0]


class SpecCache:
    """Parsed definitions in memory by (content hash, key); thread-safe, LRU-bounded."""

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[tuple[str, str], ParsedProcess] = OrderedDict()
        self._lock = threading.Lock()
        self._parsing: dict[tuple[str, str], threading.Lock] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def get(self, content_hash: str, key: str) -> ParsedProcess | None:
        """The cached process, or None."""
        with self._lock:
            return self._lookup((content_hash, key))

    def put(self, process: ParsedProcess) -> None:
        """Remember a freshly parsed process (e.g. right after deploying it)."""
        with self._lock:
            self._store((process.content_hash, process.key), process)

    def get_or_parse(self, content_hash: str, resources: dict[str, str], key: str) -> ParsedProcess:
        """The cached process, parsing `resources` once on a miss (concurrent misses wait)."""
        cache_key = (content_hash, key)
        with self._lock:
            found = self._lookup(cache_key)
            if found is not None:
                return found
            key_lock = self._parsing.setdefault(cache_key, threading.Lock())
        with key_lock:
            return self._parse_once(cache_key, resources)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()

    def _parse_once(self, cache_key: tuple[str, str], resources: dict[str, str]) -> ParsedProcess:
        with self._lock:
            found = self._lookup(cache_key)
            if found is not None:
                return found
        try:
            process = parse_resources(resources, cache_key[1])
            if process.content_hash != cache_key[0]:
                logger.warning("stored resources of %s hash to %s", cache_key, process.content_hash)
            with self._lock:
                self._store(cache_key, process)
            return process
        finally:
            with self._lock:
                self._parsing.pop(cache_key, None)

    def _lookup(self, cache_key: tuple[str, str]) -> ParsedProcess | None:
        found = self._items.get(cache_key)
        if found is not None:
            self._items.move_to_end(cache_key)
        return found

    def _store(self, cache_key: tuple[str, str], process: ParsedProcess) -> None:
        self._items[cache_key] = process
        self._items.move_to_end(cache_key)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)


def detect_dialect(root: Any) -> str:
    """The dialect ("spiff" or "camunda") of a BPMN document, by the namespaces it uses."""
    used = _namespaces_used(root)
    if SPIFF_NS in used:
        return "spiff"
    if CAMUNDA_NS in used or CAMUNDA_NS in root.nsmap.values():
        return "camunda"
    return "spiff"


def _namespaces_used(root: Any) -> set[str]:
    used: set[str] = set()
    for element in root.iter():
        if isinstance(element.tag, str):
            used.add(etree.QName(element).namespace or "")
            used.update(etree.QName(name).namespace or "" for name in element.attrib)
    return used


# --- 1. load ------------------------------------------------------------------------------


def _load_all(bundle: _Bundle, files: list[tuple[str, bytes]], max_bytes: int) -> None:
    if not files:
        bundle.issues.error("", "no files were uploaded")
    for name, data in files:
        try:
            _load_file(bundle, name, data, max_bytes)
        except Exception:  # one odd file must not hide the problems of the others
            logger.exception("unexpected failure while loading %s", name)
            bundle.issues.error(name, "internal error while reading this file")


def _load_file(bundle: _Bundle, name: str, data: bytes, max_bytes: int) -> None:
    issues = bundle.issues
    if name in bundle.names:
        issues.error(name, "a file with this name was uploaded twice")
        return
    bundle.names.add(name)
    suffix = _suffix(name)
    if suffix not in (*XML_SUFFIXES, ".json"):
        shown = suffix or "(none)"
        issues.error(name, f"unsupported file type '{shown}': upload .bpmn, .dmn or .json files")
        return
    if len(data) > max_bytes:
        issues.error(name, f"file is {len(data)} bytes; the limit is {max_bytes} bytes")
        return
    text = _decode(bundle, name, data)
    if text is None:
        return
    if suffix == ".json":
        _load_form(bundle, name, text)
    else:
        _load_xml(bundle, name, text)


def _suffix(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).suffix.lower()


def _decode(bundle: _Bundle, name: str, data: bytes) -> str | None:
    if not data.strip():
        bundle.issues.error(name, "file is empty")
        return None
    try:
        # utf-8-sig drops a byte-order mark, which bpmn editors on Windows sometimes write.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        msg = f"file is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        bundle.issues.error(name, msg + _encoding_hint(data), line=line)
        return None


def _encoding_hint(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "; it is UTF-16: save it as UTF-8"
    if b"\x00" in data[:1024] or data.startswith(b"\x89PNG"):
        return "; it looks like a binary file"
    return ""


_PROLOG = re.compile(r"\A(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.DOTALL)


def _doctype_line(text: str) -> int | None:
    """Line of a <!DOCTYPE ...> in the prolog (entities can only be declared there)."""
    prolog_end = _PROLOG.match(text)
    end = prolog_end.end() if prolog_end else 0
    if text.startswith("<!DOCTYPE", end):
        return text.count("\n", 0, end) + 1
    return None


def _safe_parser() -> etree.XMLParser:
    # A fresh parser per document: lxml parser objects are not safe to share across threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        encoding="utf-8",  # the text is UTF-8 by now, whatever its declaration claims
    )


def parse_xml(text: str) -> Any:
    """Parse XML text safely: DTDs (and so entity declarations) are refused, never expanded."""
    line = _doctype_line(text)
    if line is not None:
        raise _RefusedXml("DTD/<!DOCTYPE> declarations are not allowed (no entities)", line)
    root = etree.fromstring(text.encode("utf-8"), parser=_safe_parser())
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise _RefusedXml("DTD/<!DOCTYPE> declarations are not allowed (no entities)", 1)
    return root


class _RefusedXml(Exception):
    def __init__(self, msg: str, line: int) -> None:
        super().__init__(msg)
        self.msg = msg
        self.line = line


def _load_xml(bundle: _Bundle, name: str, text: str) -> None:
    try:
        root = parse_xml(text)
    except _RefusedXml as exc:
        bundle.issues.error(name, exc.msg, line=exc.line)
        return
    except etree.XMLSyntaxError as exc:
        msg = exc.msg or str(exc)
        bundle.issues.error(name, f"not well-formed XML: {msg}", line=exc.lineno or None)
        return
    kind = _xml_kind(bundle, name, root)
    if kind is not None:
        dialect = detect_dialect(root) if kind == "bpmn" else ""
        bundle.docs[name] = _Doc(name, text, root, kind, dialect)


def _xml_kind(bundle: _Bundle, name: str, root: Any) -> str | None:
    qname = etree.QName(root)
    if qname.localname == "definitions" and qname.namespace == BPMN_NS:
        return "bpmn"
    if qname.localname == "definitions" and qname.namespace in DMN_NAMESPACES:
        return "dmn" if _dmn_prefix_ok(bundle, name, root) else None
    if qname.localname == "definitions" and not qname.namespace:
        msg = f'root element <definitions> has no namespace; BPMN needs xmlns="{BPMN_NS}"'
    else:
        msg = f"not a BPMN or DMN document: the root element is <{root.tag}>"
    bundle.issues.error(name, msg, root)
    return None


def _dmn_prefix_ok(bundle: _Bundle, name: str, root: Any) -> bool:
    # SpiffWorkflow finds DMN elements through the default namespace only ("dmn:" is mapped from
    # the unprefixed xmlns); a prefixed DMN document fails inside it with an XPath error.
    if root.prefix is None:
        return True
    msg = (
        f"DMN elements use the prefix '{root.prefix}:'; SpiffWorkflow reads DMN only "
        'in the default namespace (xmlns="...")'
    )
    bundle.issues.error(name, msg, root)
    return False


def _load_form(bundle: _Bundle, name: str, text: str) -> None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        bundle.issues.error(name, f"not valid JSON: {exc.msg}", line=exc.lineno)
        return
    except RecursionError:
        bundle.issues.error(name, "not usable JSON: nested too deeply")
        return
    if not isinstance(data, dict):
        bundle.issues.error(name, "a form file must hold a JSON object")
        return
    if not _is_ui_schema(name):
        problem = _schema_problem(data)
        if problem is not None:
            bundle.issues.error(name, problem)
            return
    bundle.forms[name] = _Form(name, text, data)


def _is_ui_schema(name: str) -> bool:
    return name.lower().endswith(UI_SCHEMA_SUFFIXES)


def _schema_problem(schema: dict[str, Any]) -> str | None:
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        where = exc.json_path if exc.path else "the top level"
        return f"not a valid JSON Schema at {where}: {exc.message}"
    except Exception as exc:  # e.g. a "$schema" that is not a string
        return f"not a valid JSON Schema: {type(exc).__name__}: {exc}"
    return None


# --- 2. xsd -------------------------------------------------------------------------------

_validators: dict[str, BpmnValidator | None] = {}
# lxml schema objects keep their error log on the instance: one validation at a time.
_validator_lock = threading.Lock()


def _schema_name(doc: _Doc) -> str | None:
    if doc.kind == "bpmn":
        return doc.dialect
    namespace = etree.QName(doc.root).namespace or ""
    return namespace if namespace in DMN_SCHEMAS else None


def _make_validator(name: str) -> BpmnValidator | None:
    try:
        if name == "spiff":
            return BpmnValidator(imports={"spiffworkflow": SPIFF_XSD})
        if name == "camunda":
            return BpmnValidator()
        return BpmnValidator(DMN_SCHEMAS[name])
    except etree.XMLSchemaParseError:
        # SpiffWorkflow 3.2.0 ships a DMN 1.2 schema whose DMNDI12.xsd holds the DI schema,
        # so it does not compile; validate what we can and skip the rest.
        logger.warning("SpiffWorkflow's XSD for %s does not load; skipping it", name)
        return None


def _xsd_warnings(bundle: _Bundle, doc: _Doc) -> None:
    name = _schema_name(doc)
    if name is None:
        return
    with _validator_lock:
        if name not in _validators:
            _validators[name] = _make_validator(name)
        validator = _validators[name]
        if validator is None:
            bundle.issues.warning(doc.name, f"XSD: no usable schema for {name}; not checked")
            return
        copy = deepcopy(doc.root)  # preprocess() renames elements; keep the parsed tree intact
        validator.preprocess(copy)
        if validator.validator.validate(copy):
            return
        entries = list(validator.validator.error_log)
    for entry in entries[:MAX_XSD_WARNINGS]:
        bundle.issues.warning(doc.name, f"XSD: {entry.message}", line=entry.line or None)
    if len(entries) > MAX_XSD_WARNINGS:
        bundle.issues.warning(doc.name, f"XSD: {len(entries) - MAX_XSD_WARNINGS} more problems")


# --- 3. parse -----------------------------------------------------------------------------


def _parse_docs(
    bundle: _Bundle, known_operators: set[str] | None, only_key: str | None
) -> list[ParsedProcess]:
    for doc in bundle.docs.values():
        _xsd_warnings(bundle, doc)
    bpmn_docs = [doc for doc in bundle.docs.values() if doc.kind == "bpmn"]
    if not bpmn_docs and bundle.names and not bundle.issues.errors:
        bundle.issues.error("", "the upload has no BPMN file; a definition needs a .bpmn file")
    _check_unique_process_ids(bundle, bpmn_docs)
    parsers = _make_parsers(bundle, bpmn_docs)
    processes: list[ParsedProcess] = []
    for doc in bpmn_docs:
        if doc.name in bundle.failed_docs:
            continue
        parser = parsers[doc.dialect]
        for process_id in _executable_ids(bundle, parser, doc):
            if only_key is None or process_id == only_key:
                built = _build(bundle, parser, doc, process_id, known_operators)
                processes.extend([built] if built is not None else [])
    return processes


def _check_unique_process_ids(bundle: _Bundle, docs: list[_Doc]) -> None:
    # SpiffWorkflow sees only the files of one dialect; ids must be unique across all of them.
    owners: dict[str, str] = {}
    for doc in docs:
        for process in doc.root.iterfind(_tag("process")):
            process_id = process.get("id")
            owner = owners.setdefault(process_id, doc.name)
            if owner != doc.name:
                msg = f"process id '{process_id}' is also defined in {owner}"
                bundle.issues.error(doc.name, msg, process)
                bundle.failed_docs.add(doc.name)


def _make_parsers(bundle: _Bundle, bpmn_docs: list[_Doc]) -> dict[str, BpmnDmnParser]:
    dialects = sorted({doc.dialect for doc in bpmn_docs}) or ["spiff"]
    parsers = {dialect: PARSER_CLASSES[dialect]() for dialect in dialects}
    dmn_docs = [doc for doc in bundle.docs.values() if doc.kind == "dmn"]
    bundle.failed_docs.update(doc.name for doc in dmn_docs if not _dmn_precheck(bundle, doc))
    for parser in parsers.values():
        for doc in dmn_docs:
            if doc.name not in bundle.failed_docs:
                _add_dmn(bundle, parser, doc)
    for doc in bpmn_docs:
        if doc.name not in bundle.failed_docs and _precheck(bundle, doc):
            _add_bpmn(bundle, parsers[doc.dialect], doc)
    return parsers


def _precheck(bundle: _Bundle, doc: _Doc) -> bool:
    """Problems SpiffWorkflow mishandles (wrong element, bare KeyError): report them first."""
    ok = _ids_unique(bundle, doc)
    if doc.dialect == "camunda":
        ok = _camunda_decision_refs(bundle, doc) and ok
    if not ok:
        bundle.failed_docs.add(doc.name)
    return ok


def _camunda_decision_refs(bundle: _Bundle, doc: _Doc) -> bool:
    # CamundaParser reads camunda:decisionRef with [] while indexing the file: a task without
    # it (a Java delegate, an external task) fails the whole file with a KeyError.
    ok = True
    for task in doc.root.iter(_tag("businessRuleTask")):
        if not task.get(f"{{{CAMUNDA_NS}}}decisionRef"):
            msg = "business rule task has no camunda:decisionRef; only DMN decisions can run"
            bundle.issues.error(doc.name, msg, task)
            ok = False
    return ok


def _ids_unique(bundle: _Bundle, doc: _Doc) -> bool:
    seen: set[str] = set()
    unique = True
    # Only BPMN elements: extension elements (camunda:property id="...") reuse ids freely.
    for element in doc.root.iterfind(f".//{{{BPMN_NS}}}*[@id]"):
        element_id = element.get("id")
        if element_id in seen:
            bundle.issues.error(doc.name, f"duplicate id '{element_id}'", element)
            unique = False
        seen.add(element_id)
    return unique


def _dmn_precheck(bundle: _Bundle, doc: _Doc) -> bool:
    """One decision with a decision table: all SpiffWorkflow runs (it crashes on the rest)."""
    namespace = etree.QName(doc.root).namespace
    decisions = doc.root.findall(f"{{{namespace}}}decision")
    if len(decisions) != 1:
        found = f"{len(decisions)} decisions" if decisions else "no decision"
        msg = f"SpiffWorkflow runs exactly one decision per DMN file; this one has {found}"
        bundle.issues.error(doc.name, msg, line=doc.root.sourceline)
        return False
    if decisions[0].find(f"{{{namespace}}}decisionTable") is None:
        msg = "the decision has no decision table; SpiffWorkflow runs only decision tables"
        bundle.issues.error(doc.name, msg, decisions[0])
        return False
    return True


def _add_bpmn(bundle: _Bundle, parser: BpmnDmnParser, doc: _Doc) -> None:
    with _ErrorsToIssues(bundle, doc.name) as guard:
        parser.add_bpmn_xml(doc.root, filename=doc.name)
    if guard.failed:
        bundle.failed_docs.add(doc.name)


def _add_dmn(bundle: _Bundle, parser: BpmnDmnParser, doc: _Doc) -> None:
    with _ErrorsToIssues(bundle, doc.name) as guard:
        known = set(parser.dmn_parsers)
        parser.add_dmn_xml(doc.root, filename=doc.name)
        dmn_parser = next(p for p in parser.dmn_parsers.values() if p.node is doc.root)
        if dmn_parser.bpmn_id in known:
            msg = f"decision id '{dmn_parser.bpmn_id}' is defined in two DMN files"
            bundle.issues.error(doc.name, msg)
        # SpiffWorkflow parses a DMN only when a business rule task asks; parse it now to
        # report its problems at deployment rather than on the first run of that task.
        dmn_parser.parse()
    if guard.failed:
        bundle.failed_docs.add(doc.name)


class _ErrorsToIssues:
    """Context manager: an exception inside the block becomes an error issue, not a raise."""

    def __init__(self, bundle: _Bundle, file: str) -> None:
        self.bundle = bundle
        self.file = file
        self.failed = False

    def __enter__(self) -> _ErrorsToIssues:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        self.failed = True
        self.bundle.issues.add_error(_issue_from_exception(exc, self.file, self.bundle.docs))
        return True


def _issue_from_exception(exc: Exception, file: str, docs: dict[str, _Doc]) -> DeployIssue:
    if isinstance(exc, ValidationException):
        return _issue_from_validation(exc, file, docs)
    if isinstance(exc, SpiffWorkflowException):
        return DeployIssue(file, None, None, _spiff_message(exc))
    if isinstance(exc, etree.LxmlError):
        return DeployIssue(file, None, None, f"XML processing failed: {exc}")
    logger.warning("unexpected exception from SpiffWorkflow for %s", file, exc_info=exc)
    msg = f"SpiffWorkflow could not parse this file ({type(exc).__name__}: {exc})"
    return DeployIssue(file, None, None, msg)


def _issue_from_validation(
    exc: ValidationException, file: str, docs: dict[str, _Doc]
) -> DeployIssue:
    file = exc.file_name or file
    element_id = getattr(exc, "id", "") or None
    line = exc.line_number if isinstance(exc.line_number, int) and exc.line_number > 0 else None
    if line is None and element_id is not None and file in docs:
        # ValidationException reads `node.line_number`, which lxml elements do not have
        # (they have `sourceline`), so look the element up ourselves.
        line = _line_of(docs[file].root, element_id)
    return DeployIssue(file, element_id, line, _spiff_message(exc))


_WRAPPED_REPR = re.compile(r"^[A-Za-z]+(Error|Exception)\(.*\)$", re.DOTALL)
# Some messages format an lxml element itself: "<Element {ns}sourceRef at 0x7f...>".
_ELEMENT_REPR = re.compile(r"<Element \{[^}]*\}([\w.-]+) at 0x[0-9a-fA-F]+>")


def _spiff_message(exc: SpiffWorkflowException) -> str:
    # SpiffWorkflowException.__str__ appends ". " + notes; build the text without the stray dot.
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    notes = [str(note) for note in getattr(exc, "notes", [])]
    text = ". ".join([text, *notes]).strip() or type(exc).__name__
    text = _ELEMENT_REPR.sub(r"<\1>", text)
    if _WRAPPED_REPR.match(text):  # TaskParser wraps unexpected errors as repr(exc)
        text = f"SpiffWorkflow cannot parse this element: {text}"
    return text


def _line_of(root: Any, element_id: str) -> int | None:
    found = root.xpath("//*[@id=$id]", id=element_id)
    return found[0].sourceline if found else None


def _executable_ids(bundle: _Bundle, parser: BpmnDmnParser, doc: _Doc) -> list[str]:
    processes = list(doc.root.iterfind(_tag("process")))
    executable = [p.get("id") for p in processes if _is_executable(parser, p.get("id"))]
    if not processes:
        has_collaboration = doc.root.find(_tag("collaboration")) is not None
        what = "a collaboration but no process" if has_collaboration else "no process"
        msg = f"the file defines {what}; nothing to deploy"
        bundle.issues.error(doc.name, msg, line=doc.root.sourceline)
    elif not executable:
        msg = 'no executable process: every process has isExecutable="false"'
        bundle.issues.error(doc.name, msg, processes[0])
    return executable


def _is_executable(parser: BpmnDmnParser, process_id: str) -> bool:
    process_parser = parser.process_parsers.get(process_id)
    # SpiffWorkflow's own rule: isExecutable absent or "true".
    return process_parser is not None and bool(process_parser.process_executable)


# --- 3b. one process ----------------------------------------------------------------------


@dataclass
class _Build:
    bundle: _Bundle
    parser: BpmnDmnParser
    doc: _Doc
    key: str
    known_operators: set[str] | None
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)
    form_files: set[str] = field(default_factory=set)
    files: set[str] = field(default_factory=set)


def _build(
    bundle: _Bundle,
    parser: BpmnDmnParser,
    doc: _Doc,
    key: str,
    known_operators: set[str] | None,
) -> ParsedProcess | None:
    build = _Build(bundle, parser, doc, key, known_operators)
    errors_before = len(bundle.issues.errors)
    with _ErrorsToIssues(bundle, doc.name) as guard:
        spec = parser.get_spec(key)
        subprocess_specs = _subprocess_specs(build)
        for process_id in [key, *subprocess_specs]:
            _check_container(build, process_id)
        bundle.used_files.update(build.files)
    if guard.failed or len(bundle.issues.errors) > errors_before:
        return None
    return _pack(build, spec, subprocess_specs)


def _subprocess_specs(build: _Build) -> dict[str, BpmnProcessSpec]:
    """Like parser.get_subprocess_specs, but a missing called process is a warning."""
    specs: dict[str, BpmnProcessSpec] = {}
    pending = [build.key]
    while pending:
        caller = pending.pop()
        for task_spec in build.parser.get_spec(caller).task_specs.values():
            if not isinstance(task_spec, SubWorkflowTask) or task_spec.spec in specs:
                continue
            called = build.parser.get_spec(task_spec.spec, required=False)
            if called is None:
                _warn_missing_called(build, caller, task_spec)
                continue
            specs[task_spec.spec] = called
            pending.append(task_spec.spec)
    return specs


def _warn_missing_called(build: _Build, caller: str, task_spec: Any) -> None:
    # Raw SpiffWorkflow parses such a file (get_spec does not follow call activities), so it
    # deploys; the call activity fails at run time unless the called process is supplied.
    process_parser = build.parser.process_parsers[caller]
    node = process_parser.get_node_by_id(task_spec.bpmn_id)
    msg = f"called process '{task_spec.spec}' is not in the uploaded files"
    build.bundle.issues.warning(process_parser.filename or build.doc.name, msg, node)


def _pack(
    build: _Build, spec: BpmnProcessSpec, subprocess_specs: dict[str, BpmnProcessSpec]
) -> ParsedProcess:
    bundle = build.bundle
    resources = {name: bundle.docs[name].text for name in build.files if name in bundle.docs}
    resources.update({name: bundle.forms[name].text for name in build.form_files})
    process_parser = build.parser.process_parsers[build.key]
    return ParsedProcess(
        key=build.key,
        name=process_parser.get_name() or build.key,
        dialect=build.doc.dialect,
        spec=spec,
        subprocess_specs=subprocess_specs,
        bpmn_xml=build.doc.text,
        resources=resources,
        content_hash=content_hash(resources),
        forms=dict(build.forms),
    )


# --- 4. potok's semantic checks -----------------------------------------------------------


def _check_container(build: _Build, process_id: str) -> None:
    """Check the flow nodes directly inside one process or subprocess."""
    process_parser = build.parser.process_parsers[process_id]
    node = process_parser.node
    file = process_parser.filename or build.doc.name
    build.files.add(file)
    # A subprocess, or a process run by a call activity, must reach an end event to hand
    # control back; the top-level process ends when no token is left.
    must_end = node.tag != _tag("process") or process_id != build.key
    children = [child for child in node if isinstance(child.tag, str)]
    _collect_resources(build, children)
    done = (process_id, file, must_end)
    if done in build.bundle.checked:
        return
    build.bundle.checked.add(done)
    _run_rules(build, file, children, build.parser.get_spec(process_id), must_end)


def _run_rules(
    build: _Build, file: str, children: list[Any], spec: BpmnProcessSpec, must_end: bool
) -> None:
    issues = build.bundle.issues
    _check_gateways(issues, file, children)
    if must_end:
        _check_dead_ends(issues, file, children, spec)
    _check_timers(issues, file, children)
    _check_message_catches(issues, file, children)
    if build.doc.dialect == "spiff":
        if build.known_operators is not None:
            _check_operators(issues, file, children, build.known_operators)
        _check_form_files(build, file, children)


def _outgoing_sources(children: list[Any]) -> set[str]:
    return {c.get("sourceRef") for c in children if c.tag == _tag("sequenceFlow")}


def _check_gateways(issues: _Issues, file: str, children: list[Any]) -> None:
    """An exclusive/inclusive/event-based gateway without outgoing flow stops the token."""
    sources = _outgoing_sources(children)
    for child in children:
        kind = GATEWAYS_NEEDING_OUTGOING.get(child.tag)
        if kind is not None and child.get("id") not in sources:
            msg = f"{kind} has no outgoing sequence flow; a token reaching it cannot go on"
            issues.error(file, msg, child)


def _check_dead_ends(
    issues: _Issues, file: str, children: list[Any], spec: BpmnProcessSpec
) -> None:
    """In a (sub)process that must reach an end event, a lone token must not stop short.

    SpiffWorkflow completes a subworkflow only when its End task runs, so a token that stops
    at a node without outgoing flow leaves the calling activity STARTED forever. A dead end
    is harmless when a parallel sibling token still reaches an end event, so only nodes that
    one token can reach alone (from a start event, through no parallel/inclusive fork and
    no boundary event) are errors.
    """
    sources = _outgoing_sources(children)
    for child in _solo_reachable(children):
        if child.get("id") in sources or child.tag in GATEWAYS_NEEDING_OUTGOING:
            continue  # gateways have their own, more specific message
        if child.get("id") in spec.task_specs and child.tag != _tag("endEvent"):
            msg = (
                f"{etree.QName(child).localname} has no outgoing sequence flow: the enclosing "
                "(sub)process would never reach its end event and its caller would wait "
                "forever; connect it to an end event"
            )
            issues.error(file, msg, child)


def _solo_reachable(children: list[Any]) -> list[Any]:
    by_id = {c.get("id"): c for c in children if c.tag in FLOW_NODE_TAGS | {_tag("endEvent")}}
    targets: dict[str, list[str]] = {}
    for flow in (c for c in children if c.tag == _tag("sequenceFlow")):
        targets.setdefault(flow.get("sourceRef"), []).append(flow.get("targetRef"))
    pending = [c.get("id") for c in children if c.tag == _tag("startEvent")]
    seen: list[Any] = []
    while pending:
        node = by_id.get(pending.pop())
        if node is None or node in seen:
            continue
        seen.append(node)
        forks = node.tag in FORK_TAGS and len(targets.get(node.get("id"), [])) > 1
        if not forks:
            pending.extend(targets.get(node.get("id"), []))
    return seen


def _check_timers(issues: _Issues, file: str, children: list[Any]) -> None:
    """A timer needs a date, duration or cycle expression."""
    for child in (c for c in children if c.tag in EVENT_TAGS):
        for timer in child.iterfind(_tag("timerEventDefinition")):
            parts = [timer.find(_tag(name)) for name in TIMER_CHILDREN]
            if not any(p is not None and (p.text or "").strip() for p in parts):
                msg = "timer has an empty expression (timeDate, timeDuration or timeCycle)"
                issues.error(file, msg, child)


def _check_message_catches(issues: _Issues, file: str, children: list[Any]) -> None:
    """A message catch event (or receive task) needs a message with a name."""
    root = children[0].getroottree().getroot() if children else None
    for child in children:
        for definition in _message_definitions(child):
            if not _message_name(root, child, definition):
                msg = "message catch has no message name: reference a message that has a name"
                issues.error(file, msg, child)


def _message_definitions(child: Any) -> list[Any]:
    nested = list(child.iterfind(_tag("messageEventDefinition")))
    if child.tag == _tag("receiveTask"):
        # SpiffWorkflow reads a receive task's own messageRef first, then a nested definition.
        return [child] if child.get("messageRef") is not None or not nested else nested[:1]
    return nested if child.tag in MESSAGE_CATCH_TAGS else []


def _message_name(root: Any, event: Any, definition: Any) -> str | None:
    message_ref = definition.get("messageRef")
    if message_ref is None:
        # SpiffWorkflow falls back to the event's own name; a bare receive task catches nothing.
        return None if definition is event else event.get("name")
    found = root.xpath("//bpmn:message[@id=$ref]", namespaces=NSMAP, ref=message_ref)
    name = found[0].get("name") if found else None
    return name.strip() if name else None


def _check_operators(
    issues: _Issues, file: str, children: list[Any], known_operators: set[str]
) -> None:
    """A Spiff service task must name an operator potok has a handler for."""
    for child in (c for c in children if c.tag == _tag("serviceTask")):
        ids = child.xpath(
            "./bpmn:extensionElements/spiffworkflow:serviceTaskOperator/@id", namespaces=NSMAP
        )
        for operator in ids:
            if operator not in known_operators:
                issues.error(file, f"unknown service task operator '{operator}'", child)


def _form_references(user_task: Any) -> Iterator[tuple[str, str]]:
    for prop in user_task.xpath(
        "./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property",
        namespaces=NSMAP,
    ):
        if prop.get("name") in FORM_PROPERTIES and (prop.get("value") or "").strip():
            yield prop.get("name"), prop.get("value").strip()


def _check_form_files(build: _Build, file: str, children: list[Any]) -> None:
    """Form files named by a user task must be in the upload."""
    for child in (c for c in children if c.tag == _tag("userTask")):
        for prop, form_name in _form_references(child):
            if _find_form(build.bundle, form_name) is None and form_name not in build.bundle.names:
                msg = f"form file '{form_name}' ({prop}) is not in the uploaded files"
                build.bundle.issues.error(file, msg, child)


def _find_form(bundle: _Bundle, form_name: str) -> _Form | None:
    if form_name in bundle.forms:
        return bundle.forms[form_name]
    # A modeler names the form by its bare file name; an upload may carry a folder prefix.
    base = PurePosixPath(form_name).name
    matches = [form for name, form in bundle.forms.items() if PurePosixPath(name).name == base]
    return matches[0] if len(matches) == 1 else None


def _collect_resources(build: _Build, children: list[Any]) -> None:
    """Remember the DMN and form files the flow nodes of one container need."""
    for child in children:
        if child.tag == _tag("businessRuleTask"):
            _collect_decision(build, child)
        if child.tag == _tag("userTask") and build.doc.dialect == "spiff":
            for _prop, form_name in _form_references(child):
                form = _find_form(build.bundle, form_name)
                if form is not None:
                    # Keyed by the name the task uses, which is how the inbox looks it up.
                    build.forms[form_name] = form.data
                    build.form_files.add(form.name)
                    build.bundle.used_files.add(form.name)


def _collect_decision(build: _Build, task: Any) -> None:
    task_parser_class = build.parser._get_parser_class(_tag("businessRuleTask"))[0]
    try:
        decision_ref = task_parser_class.get_decision_ref(task)
    except Exception:  # e.g. a Camunda task without camunda:decisionRef: SpiffWorkflow reports it
        return
    dmn_parser = build.parser.dmn_parsers.get(decision_ref)
    if dmn_parser is not None and dmn_parser.filename:
        build.files.add(dmn_parser.filename)


# --- 5. bundle-level warnings -------------------------------------------------------------


def _warn_unused(bundle: _Bundle) -> None:
    """Forms and DMN files that no deployed process uses are probably a mistake."""
    if bundle.issues.errors:
        return
    unused: Iterable[str] = [
        name
        for name in [*bundle.forms, *(d.name for d in bundle.docs.values() if d.kind == "dmn")]
        if name not in bundle.used_files
    ]
    for name in unused:
        bundle.issues.warning(name, "this file is not used by any process in the upload")
