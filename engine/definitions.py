"""Deploying process definitions: parse, validate, version by content hash, cache specs."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from sqlalchemy import bindparam, exists, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from engine.errors import ConcurrentUpdate, DeploymentError, NotFoundError
from engine.models import ProcessDefinition, ProcessInstance
from engine.operators import OPERATORS
from engine.parsing import ParsedProcess, ParseResult, SpecCache, parse_bundle
from engine.rawsql import Precondition, first_row

SPEC_CACHE = SpecCache()


@dataclass(frozen=True)
class DeployedVersion:
    key: str
    version: int
    content_hash: str
    created: bool


@dataclass(frozen=True)
class DeployOutcome:
    deployed: list[DeployedVersion]

    @property
    def created_any(self) -> bool:
        return any(item.created for item in self.deployed)


def validate_files(files: list[tuple[str, bytes]]) -> ParseResult:
    """Parse and check uploaded files without storing anything (never raises)."""
    return parse_bundle(files, known_operators=OPERATORS.ids())


def parsed_definition(definition: ProcessDefinition) -> ParsedProcess:
    """The parsed spec of a stored definition, from the in-memory cache when possible."""
    cached = SPEC_CACHE.get(definition.content_hash, definition.key)
    if cached is not None:  # no need to load the (large, deferred) resources column
        return cached
    return SPEC_CACHE.get_or_parse(definition.content_hash, definition.resources, definition.key)


@dataclass(frozen=True)
class DefinitionRef:
    """The few columns a unit of work needs to find a definition's cached spec."""

    id: int
    key: str
    version: int
    content_hash: str


_REF_COLUMNS = (
    ProcessDefinition.id,
    ProcessDefinition.key,
    ProcessDefinition.version,
    ProcessDefinition.content_hash,
)


_LATEST_REF = (
    select(*_REF_COLUMNS)
    .where(ProcessDefinition.key == bindparam("key"))
    .order_by(ProcessDefinition.version.desc())
    .limit(1)
)
_VERSION_REF = select(*_REF_COLUMNS).where(
    ProcessDefinition.key == bindparam("key"), ProcessDefinition.version == bindparam("version")
)
_REF_BY_ID = select(*_REF_COLUMNS).where(ProcessDefinition.id == bindparam("id"))


def definition_ref(session: Session, *, key: str, version: int | None = None) -> DefinitionRef:
    """The given (or latest) version of `key` as a DefinitionRef, or NotFoundError.

    Every start and unit of work asks this, so it goes straight to the cursor
    (`engine.rawsql`): even a Core query's construction and execution machinery cost more
    than running a small workflow.
    """
    if version is None:
        row = first_row(session, _LATEST_REF, key=key)
    else:
        row = first_row(session, _VERSION_REF, key=key, version=version)
    if row is None:
        suffix = f" version {version}" if version is not None else ""
        raise NotFoundError(f"process definition '{key}'{suffix} not found")
    return DefinitionRef(*row)


# "This definition is still the latest of its key": the very row is there (id, key, version
# and content — an id alone may name another key's row after the tables were reset), and no
# higher version of the key exists.
_STILL_LATEST = select(literal(1)).where(
    exists().where(
        ProcessDefinition.id == bindparam("id"),
        ProcessDefinition.key == bindparam("key"),
        ProcessDefinition.version == bindparam("version"),
        ProcessDefinition.content_hash == bindparam("content_hash"),
    ),
    ~exists().where(
        ProcessDefinition.key == bindparam("key"),
        ProcessDefinition.version > bindparam("version"),
    ),
)


class LatestDefinitions:
    """The latest DefinitionRef of each key, remembered per database (engine).

    A start then needs no lookup before it runs: the write carries the precondition
    `still_latest(ref)` (checked inside the INSERT statement on PostgreSQL — one round trip
    less per start), and a start whose precondition failed — a newer version was deployed,
    by any process — is redone on a fresh lookup.
    """

    def __init__(self) -> None:
        self._by_engine: weakref.WeakKeyDictionary[Any, dict[str, DefinitionRef]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, session: Session, key: str) -> DefinitionRef | None:
        return self._by_engine.get(session.get_bind(), {}).get(key)

    def remember(self, session: Session, ref: DefinitionRef) -> None:
        self._by_engine.setdefault(session.get_bind(), {})[ref.key] = ref

    def forget(self, session: Session, key: str) -> None:
        self._by_engine.get(session.get_bind(), {}).pop(key, None)


LATEST_DEFINITIONS = LatestDefinitions()


def still_latest(ref: DefinitionRef) -> Precondition:
    """The precondition of writing an instance of `ref` started as "the latest version"."""
    params = {"id": ref.id, "content_hash": ref.content_hash, "key": ref.key}
    return Precondition(_STILL_LATEST, {**params, "version": ref.version})


def definition_ref_by_id(session: Session, definition_id: int) -> DefinitionRef:
    """The DefinitionRef of a stored definition id (guaranteed by the instance's foreign key)."""
    row = first_row(session, _REF_BY_ID, id=definition_id)
    if row is None:
        raise NotFoundError(f"process definition {definition_id} not found")
    return DefinitionRef(*row)


def parsed_ref(session: Session, ref: DefinitionRef) -> ParsedProcess:
    """The parsed spec of `ref`; its stored resources are read only on a cache miss."""
    cached = SPEC_CACHE.get(ref.content_hash, ref.key)
    if cached is not None:
        return cached
    resources = session.scalar(
        select(ProcessDefinition.resources).where(ProcessDefinition.id == ref.id)
    )
    return SPEC_CACHE.get_or_parse(ref.content_hash, resources or {}, ref.key)


def latest_definition(session: Session, key: str) -> ProcessDefinition | None:
    """The highest version of `key` (its XML and resources load only when touched)."""
    stmt = (
        select(ProcessDefinition)
        .options(defer(ProcessDefinition.bpmn_xml), defer(ProcessDefinition.resources))
        .where(ProcessDefinition.key == key)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def get_definition_or_raise(
    session: Session, *, key: str, version: int | None = None
) -> ProcessDefinition:
    """The given (or latest) version of process `key`, or NotFoundError."""
    if version is None:
        definition = latest_definition(session, key)
    else:
        stmt = (
            select(ProcessDefinition)
            .options(defer(ProcessDefinition.bpmn_xml), defer(ProcessDefinition.resources))
            .where(ProcessDefinition.key == key, ProcessDefinition.version == version)
        )
        definition = session.scalars(stmt).first()
    if definition is None:
        suffix = f" version {version}" if version is not None else ""
        raise NotFoundError(f"process definition '{key}'{suffix} not found")
    return definition


def list_definitions(session: Session, *, all_versions: bool = False) -> list[ProcessDefinition]:
    """Every deployed version, or only the latest of each key, ordered by key."""
    stmt = select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version)
    if not all_versions:
        latest = (
            select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
            .group_by(ProcessDefinition.key)
            .subquery()
        )
        stmt = stmt.join(
            latest,
            (ProcessDefinition.key == latest.c.key) & (ProcessDefinition.version == latest.c.v),
        )
    return list(session.scalars(stmt))


def running_counts(session: Session) -> dict[int, int]:
    """Unfinished instances per definition id (for the definitions list)."""
    stmt = (
        select(ProcessInstance.definition_id, func.count())
        .where(ProcessInstance.status.in_(("running", "waiting", "error")))
        .group_by(ProcessInstance.definition_id)
    )
    return {definition_id: count for definition_id, count in session.execute(stmt).all()}


def _store(session: Session, process: ParsedProcess, deployed_by: str | None) -> DeployedVersion:
    latest = latest_definition(session, process.key)
    if latest is not None and latest.content_hash == process.content_hash:
        return DeployedVersion(process.key, latest.version, latest.content_hash, created=False)
    version = (latest.version + 1) if latest is not None else 1
    session.add(
        ProcessDefinition(
            key=process.key,
            name=process.name or process.key,
            version=version,
            content_hash=process.content_hash,
            dialect=process.dialect,
            bpmn_xml=process.bpmn_xml,
            resources=process.resources,
            deployed_by=deployed_by,
        )
    )
    SPEC_CACHE.put(process)
    return DeployedVersion(process.key, version, process.content_hash, created=True)


def deploy(
    session: Session, *, files: list[tuple[str, bytes]], deployed_by: str | None = None
) -> DeployOutcome:
    """Validate `files` and store a new version of each process whose content changed."""
    result = validate_files(files)
    if not result.ok:
        raise DeploymentError(
            f"{len(result.errors)} problem(s) in the uploaded files",
            details=[issue.as_dict() for issue in result.errors],
        )
    deployed = [_store(session, process, deployed_by) for process in result.processes]
    try:
        session.flush()
    except IntegrityError as exc:
        raise ConcurrentUpdate("another deployment of the same process won the race") from exc
    return DeployOutcome(deployed)


def _message_start_names(process: ParsedProcess) -> set[str]:
    names: set[str] = set()
    for spec in process.spec.task_specs.values():
        definition = getattr(spec, "event_definition", None)
        if isinstance(spec, StartEvent) and isinstance(definition, MessageEventDefinition):
            names.add(definition.name)
    return names


def latest_refs(session: Session) -> list[DefinitionRef]:
    """The latest version of every process key, as DefinitionRefs (no XML/resources loaded)."""
    latest = (
        select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
        .group_by(ProcessDefinition.key)
        .subquery()
    )
    stmt = (
        select(*_REF_COLUMNS)
        .join(
            latest,
            (ProcessDefinition.key == latest.c.key) & (ProcessDefinition.version == latest.c.v),
        )
        .order_by(ProcessDefinition.key)
    )
    return [DefinitionRef(*row) for row in session.execute(stmt)]


def definitions_started_by(session: Session, message_name: str) -> list[DefinitionRef]:
    """Latest definitions whose top-level process has a message start event for `message_name`.

    Runs for every message no instance waits for (each new lead's first message), so it reads
    only the columns that find the cached spec.
    """
    return [
        ref
        for ref in latest_refs(session)
        if message_name in _message_start_names(parsed_ref(session, ref))
    ]


def bundle_files(paths: list[Path]) -> list[tuple[str, bytes]]:
    """(name, bytes) of BPMN/DMN/form files, as one upload (names are the files' basenames)."""
    return [(path.name, path.read_bytes()) for path in paths]


def deploy_directory(
    session: Session, *, directory: Path, deployed_by: str | None = None
) -> DeployOutcome:
    """Deploy every .bpmn/.dmn/.json file under `directory` as one bundle."""
    paths = sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix in (".bpmn", ".dmn", ".json")
    )
    if not paths:
        return DeployOutcome([])
    return deploy(session, files=bundle_files(paths), deployed_by=deployed_by)
