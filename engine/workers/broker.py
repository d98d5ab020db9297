"""The embedded broker: kombu's SQLAlchemy transport on a SQLite file, tuned for potok.

Two fixes over kombu's own channel:
- kombu passes every transport option to `create_engine`, including `polling_interval`,
  which SQLAlchemy rejects; only SQLAlchemy's options go there now (plus a busy timeout, so
  the web process and the worker can both write the file).
- kombu marks a fetched message invisible and never deletes it (acks mean nothing to this
  transport), so the file would grow forever; a fetched message is deleted instead. Either
  way a message fetched by a worker that dies is gone: the sweeper re-sends its job.
"""

from __future__ import annotations

from json import loads
from queue import Empty
from typing import Any

from kombu.transport import sqlalchemy as kombu_sqla
from kombu.utils.encoding import bytes_to_str
from sqlalchemy import create_engine, text

# Options kombu (virtual transport, retry policy) reads itself; the rest go to SQLAlchemy.
_KOMBU_OPTIONS = frozenset(
    {
        "queue_tablename",
        "message_tablename",
        "callback",
        "errback",
        "max_retries",
        "interval_start",
        "interval_step",
        "interval_max",
        "retry_errors",
        "polling_interval",
        "body_encoding",
        "deadletter_queue",
        "visibility_timeout",
    }
)


class EmbeddedChannel(kombu_sqla.Channel):  # type: ignore[misc]
    """A SQLAlchemy-transport channel that gives SQLAlchemy only SQLAlchemy's options."""

    def _engine_from_config(self) -> Any:
        conninfo = self.connection.client
        options = {
            name: value
            for name, value in conninfo.transport_options.items()
            if name not in _KOMBU_OPTIONS
        }
        if conninfo.hostname.startswith("sqlite"):
            options.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        return create_engine(conninfo.hostname, **options)

    def _get(self, queue: str, timeout: Any = None) -> Any:
        found = self._get_or_create(queue)
        session = self.session
        if session.bind.name == "sqlite":
            session.execute(text("BEGIN IMMEDIATE TRANSACTION"))
        try:
            message = (
                session.query(self.message_cls)
                .filter(self.message_cls.queue_id == found.id)
                .filter(self.message_cls.visible.is_(True))
                .order_by(self.message_cls.sent_at, self.message_cls.id)
                .with_for_update()
                .limit(1)
                .first()
            )
            if message is None:
                raise Empty()
            payload = loads(bytes_to_str(message.payload))
            session.delete(message)
            return payload
        finally:
            session.commit()


class EmbeddedTransport(kombu_sqla.Transport):  # type: ignore[misc]
    """kombu's SQLAlchemy transport with `EmbeddedChannel`."""

    Channel = EmbeddedChannel


TRANSPORT_PATH = f"{__name__}:EmbeddedTransport"
