"""The loyalty ledger: bonus credits per customer, one entry per order, balance = their sum.

Decision: the ledger is kept in the doubles' store (`sandbox_record`, system "loyalty",
kind "entry") rather than in a table of potok's own. It needs no schema change, the store's
`add_once` makes a credit idempotent per order under concurrent retries, and the entries are
visible next to the other systems' records. A real loyalty program (MoySklad's bonus
program, a CRM) replaces `LoyaltyLedger` behind the same two methods; a dedicated table with
a unique order index is the follow-up once the ledger grows past a few thousand customers
(`balance` sums in Python, as the store filters JSON there).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from connectors.sandbox_store import SandboxStore

SYSTEM = "loyalty"
KIND = "entry"


class LoyaltyLedger:
    """Bonus credits per customer (the customer is the phone's digits)."""

    def __init__(self, store: SandboxStore) -> None:
        self._store = store

    def credit(self, *, customer: str, order_id: str, amount: Decimal) -> tuple[Decimal, bool]:
        """Credit `amount` for `order_id` once: (the amount credited for it, created now?)."""
        entry = {
            "customer": customer,
            "order_id": order_id,
            "amount": str(amount),
            "at": datetime.now(UTC).isoformat(),
        }
        stored, created = self._store.add_once(SYSTEM, KIND, f"credit:{order_id}", entry)
        return Decimal(stored["amount"]), created

    def balance(self, customer: str) -> Decimal:
        """The customer's bonus balance."""
        entries = self._store.find(SYSTEM, KIND, customer=customer)
        return sum((Decimal(entry["amount"]) for entry in entries), Decimal("0.00"))

    def entries(self, customer: str) -> list[dict[str, str]]:
        """The customer's credits, oldest first."""
        return self._store.find(SYSTEM, KIND, customer=customer)
