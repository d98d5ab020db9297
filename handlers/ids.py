"""Short unique business ids for process instances (deal numbers), generated inline."""

from __future__ import annotations

import secrets

from engine.operators import operator

# No 0/O or 1/I/L: people read these numbers out on the phone.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


@operator("ids.new", inline=True)
def new_id(prefix: str = "", length: int = 8) -> str:
    """A random id such as 'D-7KQ2M9XA': prefix + `length` unambiguous characters."""
    if not 4 <= length <= 32:
        raise ValueError("length must be between 4 and 32")
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))
