"""Hot-path SQL straight to the DBAPI cursor: a unit of work's INSERTs and its lookups.

Why not `session.execute(insert(Model), rows)`: on the start path SQLAlchemy's per-statement
execution machinery (ORM bulk layer, execution context, result objects) cost 0.1–0.2 ms per
statement — together more than running the workflow itself. Here each (table, columns) pair
is compiled once per dialect by SQLAlchemy's own compiler, values go through the columns' own
bind processors (JSON, UTC datetimes … are stored exactly as the ORM stores them), and the rows
are handed to the DBAPI cursor of the session's connection — the same transaction, so the
caller's commit or rollback covers them. On PostgreSQL a unit of work's rows for every table
go in one statement (see `_postgresql_single_statement`; a psycopg pipeline of per-table
INSERTs where that could not store a value exactly). A write may carry a `Precondition`; if it
no longer holds, nothing is written and PreconditionFailed is raised.

Only INSERTs and plain-column lookups go this way; UPDATEs keep the ORM, whose version counter
is the compare-and-swap.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

import orjson
from sqlalchemy import JSON, Select, Table, insert, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.types import TypeDecorator

from engine.errors import PreconditionFailed

Processor = Callable[[Any], Any] | None
AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class _CompiledInsert:
    sql: str
    names: tuple[str, ...]  # bind names in the order the SQL expects them
    positional: bool  # qmark (SQLite) takes a tuple, pyformat (psycopg) a dict
    processors: tuple[Processor, ...]
    table: Table

    def parameters(self, row: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        raw = _with_defaults(self.table, self.names, row)
        values = [
            process(value) if process is not None else value
            for value, process in zip(raw, self.processors, strict=True)
        ]
        return tuple(values) if self.positional else dict(zip(self.names, values, strict=True))


def _with_defaults(table: Table, names: tuple[str, ...], row: dict[str, Any]) -> list[Any]:
    # The compiler adds every column with a Python-side default the row leaves out.
    return [row[name] if name in row else _column_default(table.c[name]) for name in names]


@lru_cache(maxsize=512)
def _compile(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> _CompiledInsert:
    # inline(): no RETURNING of generated keys — nothing here reads them back.
    compiled = insert(table).inline().compile(dialect=dialect, column_keys=list(columns))
    names = tuple(compiled.positiontup or compiled.binds)
    processors = tuple(
        compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    )
    return _CompiledInsert(str(compiled), names, compiled.positional, processors, table)


@dataclass(frozen=True)
class _CompiledSelect:
    sql: str
    names: tuple[str, ...]
    positional: bool
    defaults: dict[str, Any]  # values the statement carries itself (LIMIT 1 …)

    def parameters(self, given: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = {**self.defaults, **given}
        return tuple(values[n] for n in self.names) if self.positional else values


@lru_cache(maxsize=64)
def _compile_select(dialect: Dialect, statement: AnySelect) -> _CompiledSelect:
    compiled = statement.compile(dialect=dialect)
    names = tuple(compiled.positiontup or compiled.binds)
    return _CompiledSelect(str(compiled), names, compiled.positional, dict(compiled.params))


def first_row(session: Session, statement: AnySelect, **params: Any) -> tuple[Any, ...] | None:
    """The first row of a module-level `statement` (cached by identity; bind parameters named
    with `bindparam`), or None. For plain columns only: no result processing is applied,
    so select ints and strings, not JSON or datetimes."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()  # what session.execute() would do: pending rows must be visible
    connection = session.connection()
    compiled = _compile_select(connection.dialect, statement)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(compiled.sql, compiled.parameters(params))
        row = cursor.fetchone()
    except connection.dialect.loaded_dbapi.Error as exc:
        raise translate_error(exc, compiled.sql, connection.dialect) from exc
    finally:
        cursor.close()
    return tuple(row) if row is not None else None


def translate_error(exc: Exception, sql: str, dialect: Dialect) -> StatementError:
    """A driver error as the SQLAlchemy exception (IntegrityError, OperationalError …) the
    rest of potok catches."""
    return DBAPIError.instance(sql, None, exc, dialect.loaded_dbapi.Error, dialect=dialect)


def _column_default(column: Any) -> Any:
    default = column.default
    if default is None or (not default.is_scalar and not default.is_callable):
        return None
    # SQLAlchemy wraps a zero-argument default (utcnow, new_id, dict) to take a context.
    return default.arg(None) if default.is_callable else default.arg


@dataclass(frozen=True)
class _ColumnSlot:
    attribute: str  # the mapped attribute's name on the object
    column: Any
    is_version: bool  # the ORM's version counter (compare-and-swap) starts at 1


@lru_cache(maxsize=64)
def _column_slots(model: Any) -> tuple[_ColumnSlot, ...]:
    mapper: Mapper[Any] = inspect(model)
    return tuple(
        _ColumnSlot(attr.key, attr.columns[0], attr.columns[0] is mapper.version_id_col)
        for attr in mapper.column_attrs
    )


def _full_row(obj: Any) -> dict[str, Any]:
    """Every column of a new ORM object, defaults applied to the object too (so it needs no
    reload once attached), and the version counter started where the ORM starts it."""
    row: dict[str, Any] = {}
    given = obj.__dict__
    model: Any = type(obj)
    for slot in _column_slots(model):
        if slot.attribute in given:
            value = given[slot.attribute]
        else:
            value = 1 if slot.is_version else _column_default(slot.column)
            setattr(obj, slot.attribute, value)
        row[slot.column.key] = value
    return row


@dataclass
class RowBatch:
    """INSERTs collected during a unit of work, written in order by `write`."""

    _pending: list[tuple[Table, list[dict[str, Any]]]] = field(default_factory=list)
    _new_objects: list[Any] = field(default_factory=list)

    def add(self, model: Any, rows: list[dict[str, Any]]) -> None:
        """Queue rows (dicts keyed by column name, the same keys in every row) of `model`."""
        if rows:
            self._pending.append((model.__table__, rows))

    def add_object(self, obj: Any) -> None:
        """Queue a new ORM object; after `write` it is in the session as if the ORM had
        inserted it (persistent, version counter 1, no reload)."""
        self._pending.append((type(obj).__table__, [_full_row(obj)]))
        self._new_objects.append(obj)

    def write(self, session: Session, precondition: Precondition | None = None) -> None:
        """Run the queued INSERTs on the session's connection, then attach the new objects.

        With a `precondition`, nothing is written (PreconditionFailed) unless it holds at
        write time — checked inside the very statement on PostgreSQL (no extra round trip).
        """
        pending, self._pending = self._pending, []
        if pending:
            _execute(session, pending, precondition)
        for obj in self._new_objects:
            _attach_as_inserted(session, obj)
        self._new_objects = []


def _attach_as_inserted(session: Session, obj: Any) -> None:
    """Put an object this module inserted into the session as the ORM's own flush would:
    persistent, and recorded as new in the current (possibly nested) transaction — so a
    rollback of that transaction or savepoint expunges it again, as it does for ORM inserts.
    (SQLAlchemy has no public call for the second half; its flush does exactly this.)"""
    make_transient_to_detached(obj)
    session.add(obj)
    transaction = session._transaction  # the innermost: a savepoint when one is open
    if transaction is not None:
        transaction._new[inspect(obj)] = True


Pending = list[tuple[Table, list[dict[str, Any]]]]
Names = tuple[str, ...]


@dataclass(frozen=True)
class Precondition:
    """A module-level SELECT (see `first_row`) that returns a row while a batch may be
    written, e.g. "the definition this instance runs is still the latest"."""

    statement: AnySelect
    params: dict[str, Any]


def _execute(session: Session, pending: Pending, precondition: Precondition | None) -> None:
    connection = session.connection()
    dialect = connection.dialect
    single = _postgresql_single_statement(dialect, pending, precondition)
    cursor = connection.connection.cursor()
    try:
        if single is not None:
            cursor.execute(*single)
            outcome = cursor.fetchone()
            written = outcome is not None and outcome[0] > 0
        else:
            written = precondition is None or (
                first_row(session, precondition.statement, **precondition.params) is not None
            )
            if written:
                with _pipeline(connection.connection):
                    _run(cursor, _per_table_statements(dialect, pending))
    except dialect.loaded_dbapi.Error as exc:
        raise translate_error(exc, f"INSERT INTO {pending[0][0].name} …", dialect) from exc
    finally:
        cursor.close()
    if not written:
        raise PreconditionFailed("the write's precondition no longer holds; nothing was written")


def _per_table_statements(dialect: Dialect, pending: Pending) -> list[tuple[str, list[Any]]]:
    statements = []
    for table, rows in pending:
        compiled = _compile(dialect, table, tuple(rows[0]))
        statements.append((compiled.sql, [compiled.parameters(row) for row in rows]))
    return statements


def _postgresql_single_statement(
    dialect: Dialect, pending: Pending, precondition: Precondition | None
) -> tuple[str, dict[str, Any]] | None:
    """PostgreSQL: every table's rows in ONE statement — an INSERT per table, each a
    data-modifying WITH reading its rows from one JSON parameter (json_populate_recordset);
    a precondition becomes a `guard` every INSERT depends on, and the statement returns
    whether it held.

    Why: even pipelined, psycopg's per-execute work and the server's per-statement work for
    4–8 small INSERTs cost more than running the workflow; one statement with four JSON
    parameters does not. Foreign keys hold: PostgreSQL checks them at the end of the
    statement, when the instance row is there. None (use the per-table path) for other
    databases or for values orjson cannot write as they would be stored (integers past 64 bits).
    """
    if dialect.name != "postgresql":
        return None
    shapes, parameters = [], {}
    for n, (table, rows) in enumerate(pending):
        names = _compile(dialect, table, tuple(rows[0])).names
        document = _rows_document(dialect, table, names, rows)
        if document is None:
            return None
        parameters[f"rows_{n}"] = document
        shapes.append((table, names))
    guard = None
    if precondition is not None:
        compiled_guard = _compile_select(dialect, precondition.statement)
        guard, guard_parameters = compiled_guard.sql, compiled_guard.parameters(precondition.params)
        assert isinstance(guard_parameters, dict)  # psycopg binds by name
        parameters.update(guard_parameters)
    return _single_statement_sql(dialect, tuple(shapes), guard), parameters


def _rows_document(
    dialect: Dialect, table: Table, names: Names, rows: list[dict[str, Any]]
) -> str | None:
    """The rows as one JSON array for json_populate_recordset — or None when that would not
    store them exactly as the ORM does: integers past 64 bits (orjson refuses them), a NUL
    character anywhere (json_populate_recordset refuses \\u0000 even for json columns), a
    Python None in a JSON column (it would become SQL NULL, not JSON null)."""
    prepare = _python_side_processors(dialect, table, names)
    full = []
    for row in rows:
        values = _with_defaults(table, names, row)
        for i, (process, is_json) in enumerate(prepare):
            if is_json and values[i] is None:
                return None
            if process is not None:
                values[i] = process(values[i])
        full.append(dict(zip(names, values, strict=True)))
    try:
        document = orjson.dumps(full, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return None
    return None if "\\u0000" in document else document


@lru_cache(maxsize=512)
def _python_side_processors(
    dialect: Dialect, table: Table, names: Names
) -> tuple[tuple[Processor, bool], ...]:
    """Per column: the TypeDecorator's own conversion (UTCDateTime: to UTC, as the ORM path
    applies it), and whether the column is JSON."""
    prepared = []
    for name in names:
        column_type = table.c[name].type
        process = None
        if isinstance(column_type, TypeDecorator):
            process = partial(column_type.process_bind_param, dialect=dialect)
        prepared.append((process, isinstance(column_type, JSON)))
    return tuple(prepared)


@lru_cache(maxsize=256)
def _single_statement_sql(
    dialect: Dialect, shapes: tuple[tuple[Table, Names], ...], guard: str | None
) -> str:
    quote = dialect.identifier_preparer.quote
    withs = [f"guard AS ({guard})"] if guard else []
    only_if_guarded = " WHERE EXISTS (SELECT 1 FROM guard)" if guard else ""
    for n, (table, names) in enumerate(shapes):
        columns = ", ".join(quote(name) for name in names)
        withs.append(
            f"rows_{n} AS (INSERT INTO {quote(table.name)} ({columns}) SELECT {columns}"
            f" FROM json_populate_recordset(NULL::{quote(table.name)}, %(rows_{n})s::json)"
            f"{only_if_guarded})"
        )
    result = "SELECT count(*) FROM guard" if guard else "SELECT 1"
    return f"WITH {', '.join(withs)} {result}"


def _pipeline(dbapi_connection: Any) -> AbstractContextManager[Any]:
    """psycopg's pipeline mode (statements sent without waiting, one sync at the end), or
    nothing for drivers without one (sqlite3 runs in-process: there is no round trip)."""
    pipeline = getattr(dbapi_connection.driver_connection, "pipeline", None)
    return pipeline() if pipeline is not None else nullcontext()


def _run(cursor: Any, statements: list[tuple[str, list[Any]]]) -> None:
    for sql, parameters in statements:
        if len(parameters) == 1:
            cursor.execute(sql, parameters[0])
        else:
            cursor.executemany(sql, parameters)
