"""Groups: the tree apps live in. Apps belong to the group of their path; a group can also exist
empty and carry dependencies of its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Group:
    id: str
    version: datetime
    dependencies: tuple[str, ...] = ()
