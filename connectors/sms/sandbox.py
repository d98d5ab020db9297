"""SMS double: SMS.ru (`/sms/send`, `/sms/status`, `/my/balance`) and SMSC
(`/sys/send.php`, `/sys/status.php`, `/sys/balance.php`) in one app, one list of sent SMS.

Vendor behaviour kept: parameters come as a form (or a query string), errors come inside
HTTP 200 answers — SMS.ru `{"status": "ERROR", "status_code", "status_text"}` (per number
inside `sms` for a refused recipient), SMSC `{"error", "error_code"}`. A message is queued when
sent and reads delivered at the first status query; each costs 3.50 ₽ from a 1000 ₽ balance
(SMS.ru `test=1` messages are answered but neither sent nor charged).
Control: `POST /_control/sms/{id}/fail` (the operator could not deliver it).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request

from connectors.sandbox_kit import SandboxSettings, VendorStyle, build_app, iso_now
from connectors.sandbox_store import SandboxStore
from connectors.sms.config import SANDBOX_API_ID, SANDBOX_LOGIN, SANDBOX_PASSWORD

SYSTEM = "sms"
START_BALANCE = Decimal("1000.00")
PRICE = Decimal("3.50")
MAX_TEXT = 1000
SMSRU_TEXTS = {
    200: "Неправильный api_id",
    202: "Неправильно указан номер телефона получателя, либо на него нет маршрута",
    203: "Нет текста сообщения",
    205: "Сообщение слишком длинное (превышает 8 СМС)",
}
SMSC_TEXTS = {
    1: "parameters error",
    2: "invalid login or password",
    6: "message is denied",
    7: "invalid phone number format",
}


class SmsStyle(VendorStyle):
    """SMS.ru's `{"status": "ERROR", "status_code", "status_text"}`."""

    def body(self, status: int, message: str, code: str | None) -> Any:
        return {"status": "ERROR", "status_code": int(code or status), "status_text": message}


STYLE = SmsStyle()


async def _params(request: Request) -> dict[str, str]:
    """Form fields merged over the query string (both providers accept either)."""
    params = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        params.update({key: str(value) for key, value in form.items()})
    return params


def _valid_phone(phone: str) -> bool:
    return phone.isdigit() and 11 <= len(phone) <= 13


def smsru_error(code: int) -> dict[str, Any]:
    return {"status": "ERROR", "status_code": code, "status_text": SMSRU_TEXTS[code]}


def smsc_error(code: int) -> dict[str, Any]:
    return {"error": SMSC_TEXTS[code], "error_code": code}


class Gateway:
    """The double's operations on one store."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def balance(self) -> Decimal:
        charged = [sms for sms in self.store.records(SYSTEM, "sms") if not sms["test"]]
        return START_BALANCE - PRICE * len(charged)

    def send(
        self, provider: str, phone: str, text: str, sender: str, test: bool, sms_id: str = ""
    ) -> str:
        number = len(self.store.records(SYSTEM, "sms")) + 1
        if not sms_id:
            sms_id = f"202500-{number:08d}" if provider == "smsru" else str(number)
        record = {
            "id": sms_id,
            "provider": provider,
            "phone": phone,
            "text": text,
            "sender": sender,
            "test": test,
            "status": "queued",
            "created_at": iso_now(),
        }
        self.store.add(SYSTEM, "sms", f"{provider}:{sms_id}", record)
        return sms_id

    def read_status(self, provider: str, sms_id: str) -> str | None:
        """The message's state; a queued one has been delivered by the time anyone asks."""
        key = f"{provider}:{sms_id}"
        record = self.store.get(SYSTEM, "sms", key)
        if record is None:
            return None
        if record["status"] == "queued":
            record["status"] = "delivered"
            self.store.put(SYSTEM, "sms", key, record)
        return str(record["status"])


def create_sandbox_app(store: SandboxStore, settings: SandboxSettings | None = None) -> FastAPI:
    """The SMS double (both providers), to be mounted at /sandbox/sms."""
    settings = settings or SandboxSettings()
    gateway = Gateway(store)
    vendor = APIRouter()
    control = APIRouter()

    # --- SMS.ru ---------------------------------------------------------------------------

    @vendor.post("/sms/send")
    def smsru_send(p: dict[str, str] = Depends(_params)) -> dict[str, Any]:
        if p.get("api_id") != SANDBOX_API_ID:
            return smsru_error(200)
        text = p.get("msg", "")
        if not text:
            return smsru_error(203)
        if len(text) > MAX_TEXT:
            return smsru_error(205)
        results: dict[str, Any] = {}
        for phone in filter(None, p.get("to", "").split(",")):
            if not _valid_phone(phone):
                results[phone] = smsru_error(202)
                continue
            sms_id = gateway.send("smsru", phone, text, p.get("from", ""), p.get("test") == "1")
            results[phone] = {"status": "OK", "status_code": 100, "sms_id": sms_id}
        if not results:
            return smsru_error(202)
        return {
            "status": "OK",
            "status_code": 100,
            "sms": results,
            "balance": float(gateway.balance()),
        }

    @vendor.post("/sms/status")
    def smsru_status(p: dict[str, str] = Depends(_params)) -> dict[str, Any]:
        if p.get("api_id") != SANDBOX_API_ID:
            return smsru_error(200)
        codes = {
            "delivered": (103, "Сообщение доставлено"),
            "failed": (106, "Сбой у оператора"),
            "queued": (100, "Сообщение в очереди"),
        }
        statuses: dict[str, Any] = {}
        for sms_id in filter(None, p.get("sms_id", "").split(",")):
            state = gateway.read_status("smsru", sms_id)
            if state is None:
                statuses[sms_id] = {
                    "status": "ERROR",
                    "status_code": -1,
                    "status_text": "Сообщение не найдено",
                }
                continue
            code, text = codes[state]
            statuses[sms_id] = {"status": "OK", "status_code": code, "status_text": text}
        return {
            "status": "OK",
            "status_code": 100,
            "sms": statuses,
            "balance": float(gateway.balance()),
        }

    @vendor.post("/my/balance")
    def smsru_balance(p: dict[str, str] = Depends(_params)) -> dict[str, Any]:
        if p.get("api_id") != SANDBOX_API_ID:
            return smsru_error(200)
        return {"status": "OK", "status_code": 100, "balance": float(gateway.balance())}

    # --- SMSC -----------------------------------------------------------------------------

    def smsc_denied(p: dict[str, str]) -> bool:
        return (p.get("login"), p.get("psw")) != (SANDBOX_LOGIN, SANDBOX_PASSWORD)

    @vendor.api_route("/sys/send.php", methods=["GET", "POST"])
    def smsc_send(p: dict[str, str] = Depends(_params)) -> dict[str, Any]:
        if smsc_denied(p):
            return smsc_error(2)
        phones = [phone for phone in p.get("phones", "").replace(";", ",").split(",") if phone]
        if not p.get("mes"):
            return smsc_error(1)
        if not phones or not all(_valid_phone(phone) for phone in phones):
            return smsc_error(7)
        # SMSC names the whole send by the client's `id` when given (status: phone + id).
        sms_id = p.get("id") or str(len(store.records(SYSTEM, "sms")) + 1)
        for phone in phones:
            gateway.send("smsc", phone, p["mes"], p.get("sender", ""), False, f"{sms_id}:{phone}")
        return {"id": int(sms_id), "cnt": len(phones)}

    @vendor.api_route("/sys/status.php", methods=["GET", "POST"])
    def smsc_status(p: dict[str, str] = Depends(_params)) -> dict[str, Any]:
        if smsc_denied(p):
            return smsc_error(2)
        state = gateway.read_status("smsc", f"{p.get('id', '')}:{p.get('phone', '')}")
        code = {"delivered": 1, "failed": 20, "queued": -1}.get(state or "", -3)
        return {"status": code, "last_date": iso_now(), "err": 0}

    @vendor.api_route("/sys/balance.php", methods=["GET", "POST"])
    def smsc_balance(p: dict[str, str] = Depends(_params)) -> dict[str, Any]:
        if smsc_denied(p):
            return smsc_error(2)
        return {"balance": f"{gateway.balance():.2f}"}

    @control.post("/sms/{sms_id}/fail")
    def fail_delivery(sms_id: str) -> dict[str, Any]:
        for record in store.records(SYSTEM, "sms"):
            if record["id"] == sms_id:
                record["status"] = "failed"
                store.put(SYSTEM, "sms", f"{record['provider']}:{sms_id}", record)
                return record
        raise STYLE.fail(404, f"no SMS {sms_id}")

    return build_app(
        system=SYSTEM, store=store, style=STYLE, settings=settings, vendor=vendor, control=control
    )
