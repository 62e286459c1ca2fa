"""Persistence: the Store port and its SQL implementation (SQLite by default, PostgreSQL)."""

from conveyor.store.protocol import Store, Transaction
from conveyor.store.subscriptions import TimedBatches

__all__ = ["Store", "TimedBatches", "Transaction"]
