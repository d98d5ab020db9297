"""Who is acting: the engine checks permissions against this, never against HTTP objects."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    """A user (or integration) acting on the engine, with the groups and roles it holds."""

    username: str
    groups: frozenset[str] = field(default_factory=frozenset)
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def may_take(self, candidate_groups: list[str]) -> bool:
        """True if the actor belongs to one of the task's candidate groups (or is an admin)."""
        if self.is_admin or not candidate_groups:
            return True
        return bool(self.groups.intersection(candidate_groups))


SYSTEM_ACTOR = Actor(username="system", roles=frozenset({"admin"}))
