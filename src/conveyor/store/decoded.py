"""Reading apps and instances without decoding what has not changed.

Decoding a JSON document into a record is a pure function of the document, and domain records are
frozen, so a record whose row still holds the same document needs no second decoding. Apps and
instances carry a `digest` of their document; a listing reads (id, digest) pairs from a covering
index, takes unchanged records from a `DecodedCache`, and fetches and decodes only the rest. A
server answering `GET /v2/apps` over 10,000 instances then compares 10,000 digests instead of
parsing 10,000 JSON documents.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Select, Table, bindparam, select

from conveyor.store.codecs import Codec

T = TypeVar("T")

_FETCH_BATCH = 500  # ids per `IN (...)` when fetching a few changed documents


def document_digest(document: str) -> int:
    """A 64-bit digest of a stored document (a signed BIGINT), to tell whether it changed."""
    digest = hashlib.blake2b(document.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class DecodedCache(Generic[T]):
    """Decoded records by key, valid while the digest of their stored document is unchanged.

    Shared by the transactions of one store, on any thread: each operation is one dictionary
    operation, atomic under the GIL, and an entry is only ever used after its digest matched.
    `keep_only` (after a full listing) forgets deleted records; `limit` bounds the rest.
    """

    def __init__(self, *, limit: int = 200_000) -> None:
        self._limit = limit
        self._entries: dict[str, tuple[int, T]] = {}

    def get(self, key: str, digest: int) -> T | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != digest:
            return None
        return entry[1]

    def put(self, key: str, digest: int, value: T) -> None:
        if len(self._entries) >= self._limit:
            self._entries = {}
        self._entries[key] = (digest, value)

    def size(self) -> int:
        return len(self._entries)

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def keep_only(self, keys: Iterable[str]) -> None:
        entries = self._entries
        self._entries = {key: entries[key] for key in keys if key in entries}


Run = Callable[[Select[Any], Mapping[str, Any]], Any]
"""Runs a statement with parameters in the open transaction, giving the driver's cursor."""


def read_one(
    run: Run, query: Select[Any], key: str, codec: Codec[T], cache: DecodedCache[T]
) -> T | None:
    """The record of the one (digest, document) row `query` selects with `key` bound, if any."""
    row = run(query, {"key": key}).fetchone()
    if row is None:
        return None
    digest, document = row
    record = cache.get(key, digest)
    if record is None:
        record = codec.loads(document)
        cache.put(key, digest, record)
    return record


def read_listed(
    connection: Connection,
    query: Select[Any],
    table: Table,
    codec: Codec[T],
    cache: DecodedCache[T],
    *,
    run: Run,
    parameters: Mapping[str, Any] | None = None,
    whole_table: bool,
) -> list[T]:
    """The records of the (id, digest) rows `query` lists with `parameters`, in its order
    (run by `run`; what must be fetched, by `connection`).
    `whole_table`: the query lists every row, so the cache may forget the keys it did not list
    (deleted rows)."""
    keys: list[str] = []
    found: list[T | None] = []
    # Rows are consumed as they come, not gathered in a list first: each dies at once, so a
    # listing of 10,000 rows leaves nothing for the cyclic garbage collector to walk.
    for key, digest in run(query, parameters or {}):
        keys.append(key)
        found.append(cache.get(key, digest))
    missing = [key for key, record in zip(keys, found, strict=True) if record is None]
    if missing:
        if len(missing) * 2 > len(keys):  # mostly cold: one pass over every document is quicker
            every_document = query.add_columns(table.c.document).order_by(None)
            fetched = _decode(connection.execute(every_document, parameters), codec, cache)
        else:
            fetched = _fetch(connection, table, codec, cache, missing)
        # PostgreSQL reads each statement afresh: a row changed since `query` shows as fetched,
        # a row deleted since then is left out.
        found = [
            fetched.get(key) if record is None else record
            for key, record in zip(keys, found, strict=True)
        ]
    if whole_table and cache.size() > len(keys):
        cache.keep_only(keys)
    return [record for record in found if record is not None]


def _fetch(
    connection: Connection, table: Table, codec: Codec[T], cache: DecodedCache[T], keys: list[str]
) -> dict[str, T]:
    query = _documents_by_id(table)
    fetched: dict[str, T] = {}
    for start in range(0, len(keys), _FETCH_BATCH):
        batch = keys[start : start + _FETCH_BATCH]
        rows = connection.execute(query, {"ids": batch}).all()
        fetched.update(_decode(rows, codec, cache))
    return fetched


@cache
def _documents_by_id(table: Table) -> Select[Any]:
    return select(table.c.id, table.c.digest, table.c.document).where(
        table.c.id.in_(bindparam("ids", expanding=True))
    )


def _decode(rows: Iterable[Any], codec: Codec[T], cache: DecodedCache[T]) -> dict[str, T]:
    """Decode the (id, digest, document) rows the cache lacks."""
    decoded: dict[str, T] = {}
    for key, digest, document in rows:
        record = cache.get(key, digest)
        if record is None:
            record = codec.loads(document)
            cache.put(key, digest, record)
        decoded[key] = record
    return decoded
