"""Groups: the tree apps live in. Apps belong to the group of their path; a group can also exist
empty and carry dependencies of its own."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Group:
    id: str
    version: datetime
    dependencies: tuple[str, ...] = ()


def ancestors(group_id: str) -> list[str]:
    """`/a/b/c` → [`/`, `/a`, `/a/b`, `/a/b/c`]."""
    parts = [p for p in group_id.split("/") if p]
    return ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def parent_of(group_id: str) -> str:
    """The group holding `group_id` (`/` for a top-level group and for the root itself)."""
    return group_id.rsplit("/", 1)[0] or "/"


class GroupTree:
    """Every group, those apps imply (`/prod/web/api` implies `/prod` and `/prod/web`) and those
    stored on their own, with each group's child groups and apps: built once, in time linear in
    the apps and groups, so a listing walks it instead of searching all groups for each one."""

    def __init__(self, app_ids: Iterable[str], groups: Iterable[Group]) -> None:
        self.explicit = {group.id: group for group in groups}
        self.apps: dict[str, list[str]] = defaultdict(list)
        for app_id in app_ids:
            self.apps[parent_of(app_id)].append(app_id)
        self.ids = {"/"}
        for group_id in [*self.apps, *self.explicit]:
            self.ids.update(ancestors(group_id))
        self.children: dict[str, list[str]] = defaultdict(list)
        for group_id in sorted(self.ids - {"/"}):
            self.children[parent_of(group_id)].append(group_id)

    def __contains__(self, group_id: object) -> bool:
        return group_id in self.ids
