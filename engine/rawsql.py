"""Hot-path SQL straight to the DBAPI cursor: a unit of work's INSERTs and its lookups.

Why not `session.execute(insert(Model), rows)`: on the start path SQLAlchemy's per-statement
execution machinery (ORM bulk layer, execution context, result objects) cost 0.1–0.2 ms per
statement — together more than running the workflow itself. Here each (table, columns) pair
is compiled once per dialect by SQLAlchemy's own compiler, values go through the columns' own
bind processors (JSON, UTC datetimes … are stored exactly as the ORM stores them), and the rows
are handed to the DBAPI cursor of the session's connection — the same transaction, so the
caller's commit or rollback covers them. On PostgreSQL every table's rows travel in one psycopg
pipeline: one round trip instead of one per table.

Only INSERTs and plain-column lookups go this way; UPDATEs keep the ORM, whose version counter
is the compare-and-swap.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, Table, insert, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session, make_transient_to_detached

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
        values = []
        for name, process in zip(self.names, self.processors, strict=True):
            # The compiler adds every column with a Python-side default the row leaves out.
            value = row[name] if name in row else _column_default(self.table.c[name])
            values.append(process(value) if process is not None else value)
        return tuple(values) if self.positional else dict(zip(self.names, values, strict=True))


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


def _full_row(obj: Any) -> dict[str, Any]:
    """Every column of a new ORM object, defaults applied to the object too (so it needs no
    reload once attached), and the version counter started where the ORM starts it."""
    mapper = inspect(obj).mapper
    row: dict[str, Any] = {}
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        if attr.key in obj.__dict__:
            value = obj.__dict__[attr.key]
        else:
            is_version = mapper.version_id_col is not None and column is mapper.version_id_col
            value = 1 if is_version else _column_default(column)
            setattr(obj, attr.key, value)
        row[column.key] = value
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

    def write(self, session: Session) -> None:
        """Run the queued INSERTs on the session's connection, then attach the new objects."""
        pending, self._pending = self._pending, []
        if pending:
            _execute(session, pending)
        for obj in self._new_objects:
            make_transient_to_detached(obj)
            session.add(obj)
        self._new_objects = []


def _execute(session: Session, pending: list[tuple[Table, list[dict[str, Any]]]]) -> None:
    connection = session.connection()
    dialect = connection.dialect
    statements = []
    for table, rows in pending:
        compiled = _compile(dialect, table, tuple(rows[0]))
        statements.append((compiled.sql, [compiled.parameters(row) for row in rows]))
    dbapi_connection = connection.connection
    cursor = dbapi_connection.cursor()
    try:
        with _pipeline(dbapi_connection):
            _run(cursor, statements)
    except dialect.loaded_dbapi.Error as exc:
        raise translate_error(exc, statements[0][0], dialect) from exc
    finally:
        cursor.close()


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
