"""The launch queue: instances an app still needs, and why they wait."""

from __future__ import annotations


def unplaced_key(app_id: str) -> str:
    """The store key under which the apps controller notes why an app's instances cannot be
    placed (the text of the failed constraint); the queue API reads it."""
    return f"queue.unplaced:{app_id}"
