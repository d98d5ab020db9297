"""The task page: the form from JSON Schema + UI schema, validation, actions, history, access."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import service
from engine.db import session_scope
from engine.models import HumanTask, InstanceEvent, ProcessInstance
from tests.integration.web.conftest import (
    FIXTURES,
    SHOWCASE,
    MakeUser,
    OpenBrowser,
    StartTask,
    order,
    valid_form,
)


@pytest.fixture(autouse=True)
def people(make_user: MakeUser) -> None:
    make_user("maria", display_name="Мария")
    make_user("ivan")
    make_user("olga", roles=("accountant",), groups=("accountants",))
    make_user("petr", roles=("warehouse",), groups=("warehouse",), display_name="Пётр Складов")


def _field(page: str, name: str) -> str:
    """The HTML of one field's block."""
    start = page.find(f'data-field="{name}"')
    assert start >= 0, f"no field {name}"
    ends = [
        i for i in (page.find('data-field="', start + 1), page.find("</fieldset>", start)) if i > 0
    ]
    return page[start : min(ends)]


def _error(page: str, name: str) -> str | None:
    """The error message shown next to field `name`, if any."""
    found = re.search(r'<div class="field-error"[^>]*>([^<]+)</div>', _field(page, name))
    return found.group(1) if found else None


def _instance_of(session_factory: sessionmaker[Session], task_id: str) -> ProcessInstance:
    with session_scope(session_factory) as session:
        task = session.get(HumanTask, task_id)
        assert task is not None
        instance = session.get(ProcessInstance, task.instance_id)
        assert instance is not None
        session.expunge(instance)
        return instance


def test_form_renders_every_widget_prefilled(browser: OpenBrowser, start_task: StartTask) -> None:
    """Each JSON Schema type becomes its widget, filled with the task's data."""
    task_id = start_task(business_key="A-1042", **order())
    maria = browser("maria")
    maria.post(f"/tasks/{task_id}/claim")
    page = maria.get(f"/tasks/{task_id}").text
    assert '<meta charset="utf-8">' in page
    assert 'value="Анна Смирнова"' in _field(page, "customer_name")
    assert 'type="tel"' in _field(page, "customer_phone")
    assert 'inputmode="numeric"' in _field(page, "quantity") and 'value="2"' in _field(
        page, "quantity"
    )
    assert "от 1 до 100" in _field(page, "quantity")
    assert 'inputmode="decimal"' in _field(page, "weight")
    money = _field(page, "amount")
    assert 'value="4980.00"' in money and "₽" in money
    assert 'type="date"' in _field(page, "delivery_date")
    delivery = _field(page, "delivery")
    assert '<option value="courier"' in delivery and "Почта России" in delivery
    packer = _field(page, "packer")  # select from the users directory, group warehouse
    assert '<option value="petr"' in packer and "Пётр Складов" in packer and "maria" not in packer
    assert 'type="checkbox"' in _field(page, "gift_wrap")
    assert "<textarea" in _field(page, "comment") and "Что важно знать складу" in page
    assert 'type="file"' in _field(page, "invoice")
    readonly = _field(page, "accepted_by")
    assert "readonly" in readonly and 'value="site"' in readonly and "задаёт процесс" in readonly
    assert "readonly" in _field(page, "order_number")


def test_instructions_are_markdown_and_html_is_escaped(
    browser: OpenBrowser, start_task: StartTask, session_factory: sessionmaker[Session]
) -> None:
    """**bold** renders; <script> and javascript: links in instructions never do."""
    evil = (
        "Позвоните **клиенту**.\n&lt;script&gt;alert('instructions')&lt;/script&gt; "
        "[не ссылка](javascript:alert(1)) ![img](https://tracker.example/pixel.png)"
    )
    source = (FIXTURES / "showcase.bpmn").read_text(encoding="utf-8")
    patched = re.sub(
        r"(<spiffworkflow:instructionsForEndUser>).*?(</)", rf"\g<1>{evil}\g<2>", source, flags=re.S
    )
    files = [("showcase.bpmn", patched.encode())] + [
        (name, (FIXTURES / name).read_bytes()) for name in SHOWCASE[1:]
    ]
    with session_scope(session_factory) as session:
        service.deploy(session, files=files, deployed_by="tests")
    task_id = start_task(**order())
    page = browser("maria").get(f"/tasks/{task_id}").text
    assert "<strong>клиенту</strong>" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert('instructions')" in page
    assert 'href="javascript:' not in page  # and no image is fetched: no <img> at all
    assert "<img" not in page


def test_html_in_task_data_is_escaped(browser: OpenBrowser, start_task: StartTask) -> None:
    """Values from customers are text, in the inbox, the form and the history."""
    evil = '<img src=x onerror="alert(1)">Иван'
    task_id = start_task(business_key="<b>A-1</b>", **order(customer_name=evil))
    maria = browser("maria")
    inbox = maria.get("/inbox").text
    assert "<img src=x" not in inbox and "&lt;img src=x onerror=" in inbox
    assert "<b>A-1</b>" not in inbox and "&lt;b&gt;A-1&lt;/b&gt;" in inbox
    maria.post(f"/tasks/{task_id}/claim")
    page = maria.get(f"/tasks/{task_id}").text
    assert "<img src=x" not in page and "&lt;img src=x onerror=" in page
    maria.post(f"/tasks/{task_id}/complete", valid_form(customer_name=evil + "<script>x</script>"))
    assert "<script>x</script>" not in maria.get(f"/tasks/{task_id}").text


def test_a_manager_cannot_open_an_accountants_task(
    browser: OpenBrowser, start_task: StartTask
) -> None:
    """403 for the page and every action; the accountant may."""
    task_id = start_task("payment_check", business_key="PAY-7", amount="1490.00")
    maria = browser("maria")
    page = maria.get(f"/tasks/{task_id}")
    assert page.status_code == 403 and "Нет доступа" in page.text
    for action in ("claim", "unclaim", "complete"):
        assert maria.post(f"/tasks/{task_id}/{action}").status_code == 403
    assert maria.get(f"/tasks/{task_id}/status").status_code == 403
    assert "PAY-7" not in maria.get("/inbox").text
    olga = browser("olga")
    assert olga.get(f"/tasks/{task_id}").status_code == 200
    assert "PAY-7" in olga.get("/inbox").text


def test_unknown_task_is_404(browser: OpenBrowser) -> None:
    response = browser("maria").get("/tasks/no-such-task")
    assert response.status_code == 404 and "Не найдено" in response.text


def test_claim_fill_with_errors_then_complete(
    browser: OpenBrowser, start_task: StartTask, session_factory: sessionmaker[Session]
) -> None:
    """Server-side validation puts each error next to its field and keeps what was typed."""
    task_id = start_task(**order())
    maria = browser("maria")
    page = maria.get(f"/tasks/{task_id}").text
    assert "Возьмите задачу, чтобы заполнить форму" in page and "<fieldset disabled" in page
    assert maria.post(f"/tasks/{task_id}/complete", valid_form()).headers["location"] == (
        f"/tasks/{task_id}"
    )  # not claimed: refused with a message, nothing done

    claimed = maria.post(f"/tasks/{task_id}/claim")
    assert claimed.headers["location"] == f"/tasks/{task_id}"
    assert "Задача ваша" in maria.get(f"/tasks/{task_id}").text

    bad = maria.post(
        f"/tasks/{task_id}/complete",
        valid_form(
            quantity="250", weight="тяжёлый", delivery="", customer_name="", amount="12,345"
        ),
    )
    assert bad.status_code == 422
    errors = {name: _error(bad.text, name) for name in valid_form()}
    assert errors["quantity"] == "Не больше 100."
    assert errors["weight"] == "Введите число."
    assert errors["delivery"] == "Заполните это поле."
    assert errors["customer_name"] == "Заполните это поле."
    assert errors["amount"] is None  # "12,345" is an amount (12.35)
    assert 'value="250"' in _field(bad.text, "quantity")  # what was typed stays
    assert 'value="тяжёлый"' in _field(bad.text, "weight")
    assert "Проверьте отмеченные поля" in bad.text

    done = maria.post(f"/tasks/{task_id}/complete", valid_form())
    assert done.status_code == 303 and done.headers["location"] == "/inbox"
    assert "Готово: «Подтвердить заказ»" in maria.get("/inbox").text
    instance = _instance_of(session_factory, task_id)
    assert instance.status == "completed"
    assert instance.variables["quantity"] == 3 and instance.variables["weight"] == 1.5
    assert instance.variables["amount"] == "4980.00"
    assert instance.variables["delivery_date"] == "2026-12-24"
    assert instance.variables["gift_wrap"] is False


def test_readonly_fields_cannot_be_changed_through_the_form(
    browser: OpenBrowser, start_task: StartTask, session_factory: sessionmaker[Session]
) -> None:
    """A tampered post of ui:readonly fields changes nothing: the process's value stays."""
    task_id = start_task(**order())
    maria = browser("maria")
    maria.post(f"/tasks/{task_id}/claim")
    tampered = valid_form(accepted_by="maria-the-hacker", order_number="X-0")
    assert maria.post(f"/tasks/{task_id}/complete", tampered).status_code == 303
    instance = _instance_of(session_factory, task_id)
    assert instance.variables["accepted_by"] == "site"
    assert instance.variables["order_number"] == "A-1042"


def test_history_shows_who_changed_what(
    browser: OpenBrowser, start_task: StartTask, session_factory: sessionmaker[Session]
) -> None:
    """old → new per variable, with the actor."""
    task_id = start_task(**order())
    maria = browser("maria")
    maria.post(f"/tasks/{task_id}/claim")
    maria.post(f"/tasks/{task_id}/complete", valid_form(quantity="5"))
    page = maria.get(f"/tasks/{task_id}").text
    assert "Выполнил(а) «Подтвердить заказ»" in page and "Взял(а) «Подтвердить заказ»" in page
    change = re.search(
        r'<span class="var" title="quantity">Количество</span>: '
        r'<span class="old">2</span> → <span class="new">5</span>',
        page,
    )
    assert change, "quantity 2 → 5 missing from the history"
    assert "maria" in page
    with session_scope(session_factory) as session:
        kinds = set(session.scalars(select(InstanceEvent.type)))
    assert {"instance_started", "task_claimed", "task_completed"} <= kinds


def test_unclaim_gives_the_task_back(browser: OpenBrowser, start_task: StartTask) -> None:
    task_id = start_task(**order())
    maria = browser("maria")
    maria.post(f"/tasks/{task_id}/claim")
    assert "Взял(а) maria" in browser("ivan").get(f"/tasks/{task_id}").text
    assert maria.post(f"/tasks/{task_id}/unclaim").headers["location"] == "/inbox"
    assert "Ждёт в очереди" in maria.get(f"/tasks/{task_id}").text


def test_second_claimant_is_told_who_was_faster(
    browser: OpenBrowser, start_task: StartTask
) -> None:
    task_id = start_task(**order())
    maria, ivan = browser("maria"), browser("ivan")
    maria.post(f"/tasks/{task_id}/claim")
    response = ivan.post(f"/tasks/{task_id}/claim")
    assert response.headers["location"] == f"/tasks/{task_id}"
    assert "Вас опередили: задачу уже взял(а) maria" in ivan.get(f"/tasks/{task_id}").text


def test_file_upload_is_stored_and_downloaded_as_attachment(
    browser: OpenBrowser, start_task: StartTask, session_factory: sessionmaker[Session]
) -> None:
    """A file field keeps the file as a data URL; downloads never render inline."""
    task_id = start_task(**order())
    maria = browser("maria")
    maria.post(f"/tasks/{task_id}/claim")
    content = b"<html><script>alert(1)</script></html>"
    response = maria.post(
        f"/tasks/{task_id}/complete",
        valid_form(quantity="500"),
        files={"invoice": ("счёт 7.html", content, "text/html")},
    )
    assert response.status_code == 422  # wrong quantity: nothing is stored yet
    response = maria.post(
        f"/tasks/{task_id}/complete",
        valid_form(),
        files={"invoice": ("счёт 7.html", content, "text/html")},
    )
    assert response.status_code == 303
    stored = _instance_of(session_factory, task_id).variables["invoice"]
    assert stored.startswith("data:text/html;name=") and ";base64," in stored
    download = maria.get(f"/tasks/{task_id}/files/invoice")
    assert download.status_code == 200 and download.content == content
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"


def test_directory_values_must_come_from_the_directory(
    browser: OpenBrowser, start_task: StartTask
) -> None:
    task_id = start_task(**order())
    maria = browser("maria")
    maria.post(f"/tasks/{task_id}/claim")
    response = maria.post(f"/tasks/{task_id}/complete", valid_form(packer="maria"))
    assert response.status_code == 422
    assert "Выберите значение из списка" in _field(response.text, "packer")
    assert maria.post(f"/tasks/{task_id}/complete", valid_form(packer="petr")).status_code == 303


def test_english_is_one_click_away(browser: OpenBrowser, start_task: StartTask) -> None:
    """The language switch changes every text of the UI (and is remembered)."""
    task_id = start_task(**order())
    maria = browser("maria")
    assert "Мои задачи" in maria.get("/inbox").text
    switched = maria.post("/locale", {"locale": "en", "next": f"/tasks/{task_id}"})
    assert switched.headers["location"] == f"/tasks/{task_id}"
    page = maria.get(f"/tasks/{task_id}").text
    assert '<html lang="en">' in page and "Claim the task to fill in the form." in page
    assert "Возьмите задачу" not in page
    assert "My tasks" in maria.get("/inbox").text
