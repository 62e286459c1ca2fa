"""Persistence: the Store port and its SQL implementation (SQLite by default, PostgreSQL)."""

from conveyor.store.protocol import Store, Transaction

__all__ = ["Store", "Transaction"]
