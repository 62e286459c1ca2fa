"""Events: what happened, in order. Payloads are Marathon's event JSON (`eventType`, `timestamp`,
...), the one public shape; the native API and the UI read the same records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from conveyor.domain.documents import JsonObject


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    at: datetime
    payload: JsonObject
