"""The Telegram surface of order_assignment: blind offers, «Принять заказ», "taken" edits.

    order task open, nobody has it ─▶ dispatch_offers (beat, every ~2 s)
        offers the queue's oldest task (strict FIFO; every open one without FIFO) to each
        manager who may take it now: active, in the task's groups, mapped to a Telegram chat
        (`User.telegram_chat_id`), online when the queue is online-only, not in cool-down —
        a message with only «Новый заказ», the number and the arrival time, and the button.
    a manager presses «Принять заказ» ─▶ /hooks/telegram/managers ─▶ message `button_pressed`
        ─▶ take_by_button (an engine message handler): the manager is found by the Telegram
        user id, and the claim goes through `engine.tasks.claim_task` — the same queue
        policies as the inbox (first click wins, cool-down, FIFO, online only).
    the task was taken (here or in the inbox) ─▶ reconcile: the winner's offer is edited into
        the full order, every other offer of it into "taken"; then the next order is offered.

Every Telegram call goes through the outbox (channel `telegram_offer`), written in the same
transaction as the state it reflects: nothing is sent for a rolled-back claim, and a Telegram
outage only delays the messages. One offer row per task and manager (`telegram_offer`),
so concurrent dispatchers never offer twice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import PermanentConnectorError
from connectors.telegram.client import InlineButton
from engine import outbox, queues
from engine.actor import Actor
from engine.db import session_scope
from engine.directories import database
from engine.errors import NotFoundError, PotokError
from engine.extensions import register_message_handler, register_periodic
from engine.models import HumanTask, TelegramOffer, User, utcnow
from engine.outbox import OutboxItem, register_sender
from engine.tasks import claim_task
from handlers.clients import current_clients

log = logging.getLogger("potok.offers")

BOT = "managers"  # the bot managers get offers from (TelegramConfig.bots)
PROCESS_KEY = "order_assignment"
ELEMENT_ID = "take_task"
CALLBACK_PREFIX = "take:"
CHANNEL = "telegram_offer"
BUTTON = "Принять заказ"
ZONE = ZoneInfo("Europe/Moscow")
MAX_OFFERED_TASKS = 20


# --- texts --------------------------------------------------------------------------------


def _arrived(value: Any) -> str:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value or "")
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZONE)
    return moment.strftime("%d.%m %H:%M")


def offer_text(data: dict[str, Any]) -> str:
    """The blind offer: only «Новый заказ», the number and the arrival time."""
    number, arrived = data.get("order_number") or "—", _arrived(data.get("arrived_at"))
    return f"Новый заказ №{number}\nПоступил: {arrived}"


def taken_text(data: dict[str, Any]) -> str:
    return f"Заказ №{data.get('order_number') or '—'} уже взят другим менеджером"


def closed_text(data: dict[str, Any]) -> str:
    return f"Заказ №{data.get('order_number') or '—'} снят с распределения"


def _money(value: Any) -> str:
    try:
        return f"{float(value):,.2f}".replace(",", " ").replace(".", ",").removesuffix(",00")
    except (TypeError, ValueError):
        return str(value or "")


def full_text(data: dict[str, Any]) -> str:
    """What the winner sees: the whole order."""
    raw = data.get("customer")
    customer: dict[str, Any] = raw if isinstance(raw, dict) else {}
    lines = [
        f"Заказ №{data.get('order_number') or '—'} ваш",
        f"Поступил: {_arrived(data.get('arrived_at'))}",
    ]
    if data.get("order_source"):
        lines.append(f"Источник: {data['order_source']}")
    who = ", ".join(str(customer.get(k)) for k in ("name", "phone") if customer.get(k))
    if who:
        lines.append(f"Покупатель: {who}")
    for item in data.get("items") or []:
        if isinstance(item, dict):
            lines.append(
                f"• {item.get('name') or item.get('sku')} × {item.get('qty', 1)}"
                f" — {_money(item.get('price'))} ₽"
            )
    if data.get("order_amount"):
        lines.append(f"Сумма: {_money(data['order_amount'])} ₽")
    if data.get("order_comment"):
        lines.append(f"Комментарий: {data['order_comment']}")
    return "\n".join(lines)


# --- who gets what ------------------------------------------------------------------------


def _is_order_task() -> Any:
    return and_(HumanTask.process_key == PROCESS_KEY, HumanTask.element_id == ELEMENT_ID)


def _offerable(session: Session) -> list[HumanTask]:
    """The open, unclaimed order tasks to offer now (only the oldest under FIFO)."""
    stmt = (
        select(HumanTask)
        .where(_is_order_task(), HumanTask.state == "open", HumanTask.assignee.is_(None))
        .order_by(HumanTask.created_at, HumanTask.id)
        .limit(MAX_OFFERED_TASKS)
    )
    tasks = list(session.scalars(stmt))
    if not tasks:
        return []
    policy = queues.policy_for(session, tasks[0])
    if policy is not None and policy.fifo:
        oldest = queues.oldest_open_task_id(session, queue=queues.queue_of(tasks[0]) or "")
        return [t for t in tasks if t.id == oldest][:1]
    return tasks


def _eligible(session: Session, task: HumanTask, now: datetime) -> list[User]:
    """Managers who would be allowed to claim `task` now and have a Telegram chat."""
    policy = queues.policy_for(session, task)
    queue = queues.queue_of(task) or ""
    users = session.scalars(
        select(User)
        .where(User.is_active.is_(True), User.telegram_chat_id.is_not(None))
        .order_by(User.username)
    )
    eligible = []
    for user in users:
        if not user.telegram_chat_id:
            continue
        actor = _as_actor(user)
        if actor.is_admin or not actor.may_take(list(task.candidate_groups or [])):
            continue  # supervisors use the inbox; offers go to the queue's people
        if policy is not None and policy.online_only and not queues.is_online(user, now):
            continue
        until = queues.cooldown_until(
            session,
            queue=queue,
            username=user.username,
            seconds=policy.cooldown_seconds if policy else 0,
        )
        if until is not None and until > now:
            continue
        eligible.append(user)
    return eligible


def _as_actor(user: User) -> Actor:
    return Actor(user.username, groups=frozenset(user.groups), roles=frozenset(user.roles))


def _send(session: Session, offer: TelegramOffer, action: str, text: str) -> None:
    payload: dict[str, Any] = {"offer_id": offer.id, "action": action, "text": text}
    if action == "send":
        payload["callback_data"] = CALLBACK_PREFIX + offer.task_id
    outbox.enqueue(
        session,
        channel=CHANNEL,
        recipient=offer.chat_id,
        payload=payload,
        dedupe_key=f"offer:{offer.id}:{action}:{offer.state}",
    )


def _offer(session: Session, task: HumanTask, user: User, now: datetime) -> bool:
    offer = TelegramOffer(
        task_id=task.id,
        username=user.username,
        chat_id=str(user.telegram_chat_id),
        state="offered",
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():  # a concurrent dispatcher's twin waits here, then fails
            session.add(offer)
            session.flush()
    except IntegrityError:
        return False
    _send(session, offer, "send", offer_text(task.data or {}))
    return True


def reconcile(session: Session, *, now: datetime | None = None) -> int:
    """Edit the offers of tasks that are no longer up for grabs; how many were edited."""
    now = now or utcnow()
    gone = or_(HumanTask.state != "open", HumanTask.assignee.is_not(None))
    rows = session.execute(
        select(TelegramOffer, HumanTask)
        .join(HumanTask, HumanTask.id == TelegramOffer.task_id)
        .where(TelegramOffer.state == "offered", gone)
        .order_by(TelegramOffer.id)
    ).all()
    edited = 0
    for offer, task in rows:
        data = task.data or {}
        if task.assignee == offer.username:
            state, text = "won", full_text(data)
        elif task.assignee is not None:
            state, text = "taken", taken_text(data)
        else:
            state, text = "closed", closed_text(data)
        changed = session.execute(
            update(TelegramOffer)
            .where(TelegramOffer.id == offer.id, TelegramOffer.state == "offered")
            .values(state=state, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if changed:
            offer.state = state
            _send(session, offer, "edit", text)
            edited += 1
    return edited


def dispatch_offers(session: Session, *, now: datetime | None = None) -> int:
    """Bring the Telegram offers up to date with the queue (flush only); new offers sent."""
    now = now or utcnow()
    reconcile(session, now=now)
    sent = 0
    for task in _offerable(session):
        offered = set(
            session.scalars(select(TelegramOffer.username).where(TelegramOffer.task_id == task.id))
        )
        for user in _eligible(session, task, now):
            if user.username not in offered and _offer(session, task, user, now):
                sent += 1
    return sent


def dispatch_tick(factory: sessionmaker[Session], now: datetime | None = None) -> int:
    """One beat tick: dispatch in a unit of work of its own."""
    with session_scope(factory) as session:
        return dispatch_offers(session, now=now)


# --- the button ---------------------------------------------------------------------------


class OfferRefused(NotFoundError):
    """The press does not get the order (taken, cool-down, not online, not the oldest, unknown
    manager): to the webhook it is a message nobody waited for ("unmatched", and Telegram's
    spinner says «Уже неактуально»)."""

    code = "no_matching_subscription"


def take_by_button(session: Session, payload: dict[str, Any], _by: Any) -> list[str] | None:
    """`button_pressed` with callback_data "take:<task id>" from the managers' bot: claim."""
    data = str(payload.get("callback_data") or "")
    if not data.startswith(CALLBACK_PREFIX) or str(payload.get("bot") or BOT) != BOT:
        return None
    task_id = data.removeprefix(CALLBACK_PREFIX)
    telegram_user = str(payload.get("telegram_user_id") or "")
    user = session.scalar(
        select(User).where(User.telegram_chat_id == telegram_user, User.is_active.is_(True))
    )
    if not telegram_user or user is None:
        raise OfferRefused(f"no manager has Telegram id {telegram_user!r}")
    try:
        with session.begin_nested():
            task = claim_task(session, task_id=task_id, actor=_as_actor(user))
    except PotokError as exc:
        log.info("offer of task %s refused to %s: %s", task_id, user.username, exc.code)
        raise OfferRefused(f"{user.username} does not get task {task_id}: {exc.code}") from exc
    dispatch_offers(session)  # the winner's full order, "taken" for the others, the next one
    return [task.instance_id]


# --- the outbox sender --------------------------------------------------------------------


class OfferNotSentYet(Exception):
    """An edit of an offer whose message Telegram has not confirmed yet: retried shortly."""

    transient = True


def deliver(item: OutboxItem) -> None:
    """Send or edit one offer message through the managers' bot."""
    bot = current_clients().telegram(BOT)
    offer_id = int(item.payload["offer_id"])
    text = str(item.payload.get("text") or "")
    if item.payload.get("action") == "send":
        button = InlineButton(text=BUTTON, callback_data=str(item.payload["callback_data"]))
        message = bot.send_message(item.recipient, text, buttons=[[button]])
        with session_scope(database()) as session:
            session.execute(
                update(TelegramOffer)
                .where(TelegramOffer.id == offer_id)
                .values(message_id=int(message["message_id"]))
            )
        return
    with session_scope(database()) as session:
        message_id = session.scalar(
            select(TelegramOffer.message_id).where(TelegramOffer.id == offer_id)
        )
    if message_id is None:
        raise OfferNotSentYet(f"offer {offer_id} has no message yet")
    try:
        bot.edit_message_text(item.recipient, int(message_id), text)
    except PermanentConnectorError as exc:
        if "not modified" not in str(exc.vendor_message or exc):
            raise


register_sender(CHANNEL, deliver)
register_message_handler("button_pressed", take_by_button)
register_periodic("telegram_offers", dispatch_tick)
