"""`GET /v2/apps` kept current from the event log, so the listing right after a change costs what
changed rather than reading and rendering 1,000 apps and 10,000 instances again.

Every change the listing shows appends an event in the same transaction, and event ids follow
commit order (`Transaction.last_event_id`). A `Fleet` is what the listing knows of every app as of
an event id, its *marker*: the definitions, each app's instance counts, its active deployments
and, once a request asked for them, its last task failure. `refreshed` reads the events after the
marker and reads again only what they name:

- an instance event (`status_update_event`, the health events) names its app: that app's
  instances, and its last failure, are read again;
- a deployment event: the deployments are read again;
- an app event (`api_post_event`, `group_change_success`, `app_terminated_event`): the
  definitions and the deployments are read again, and apps new to the fleet are read whole.

An event type not listed here, a payload without its app, more than `MAX_EVENTS` events, events
pruned past the marker, or more than `MAX_CHANGED_APPS` apps to read again: the fleet is read
whole. Reads come after the events are read, so a fleet holds state at least as new as its marker,
and a change that commits in between is read again with the next listing. The validator is the
database's event log, so a change made through another server sharing the database shows too.

Each app's entry is rendered once per definition and `AppFacts` and kept as JSON bytes
(`Fragments`); a body is the selected apps' fragments joined, and is reused per query while the
marker stays the same (`ListingCache`). Task lists (`embed=tasks`) are not served from here: their
health timestamps change without events.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from weakref import WeakKeyDictionary

import orjson

from conveyor.api.marathon.render import (
    EMBED_COUNTS,
    EMBED_DEPLOYMENTS,
    EMBED_LAST_FAILURE,
    EMBED_READINESS,
    AppFacts,
    Counts,
    count_by_app,
    deployments_by_app,
    read_failures,
    render_app_facts,
)
from conveyor.domain.apps import AppDefinition
from conveyor.domain.events import Event
from conveyor.store import Store, Transaction

INSTANCE_EVENTS = frozenset(
    {
        "status_update_event",
        "health_status_changed_event",
        "failed_health_check_event",
        "unhealthy_instance_kill_event",
    }
)
DEPLOYMENT_EVENTS = frozenset(
    {
        "deployment_info",
        "deployment_step_success",
        "deployment_step_failure",
        "deployment_success",
        "deployment_failed",
    }
)
APP_EVENTS = frozenset({"api_post_event", "group_change_success", "app_terminated_event"})

MAX_EVENTS = 1_000
"""More events since the marker than this: reading everything is about as quick."""
MAX_CHANGED_APPS = 100
"""More apps to read again one by one than this: one read of every instance is quicker."""

RENDERED_EMBEDS = frozenset({EMBED_COUNTS, EMBED_DEPLOYMENTS, EMBED_READINESS, EMBED_LAST_FAILURE})
NO_INSTANCES = Counts()


@dataclass(frozen=True)
class Fleet:
    """Every app as the listing shows it, as of event `marker` or later."""

    marker: int
    apps: tuple[AppDefinition, ...]
    """In the store's order (by id)."""
    facts: Mapping[str, AppFacts]
    """By app id, for each of `apps`."""
    has_failures: bool = False
    """Whether `facts` hold the last task failures (read once a listing asked for them)."""


@dataclass
class Changes:
    """What the events since a fleet's marker ask to read again."""

    apps: set[str] = field(default_factory=set)
    """Apps whose instances or last failure may have changed."""
    definitions: bool = False
    deployments: bool = False


def changes_in(events: Iterable[Event]) -> Changes | None:
    """What `events` changed; None when one of them is not understood."""
    changes = Changes()
    for event in events:
        if event.type in INSTANCE_EVENTS or event.type == "app_terminated_event":
            app_id = event.payload.get("appId")
            if not isinstance(app_id, str):
                return None
            changes.apps.add(app_id)
        if event.type in APP_EVENTS:
            changes.definitions = changes.deployments = True
        elif event.type in DEPLOYMENT_EVENTS:
            changes.deployments = True
        elif event.type not in INSTANCE_EVENTS:
            return None
    return changes


def read_fleet(tx: Transaction, *, failures: bool) -> Fleet:
    """Everything, read afresh (the marker first)."""
    marker = tx.last_event_id()
    apps = tuple(tx.list_apps())
    counts = count_by_app(tx.list_instances())
    deployments = deployments_by_app(tx.list_deployments())
    last_failures = read_failures(tx, (app.id for app in apps)) if failures else {}
    facts = {
        app.id: AppFacts(
            counts.get(app.id, NO_INSTANCES),
            deployments.get(app.id, ()),
            last_failures.get(app.id),
        )
        for app in apps
    }
    return Fleet(marker, apps, facts, has_failures=failures)


def events_since(tx: Transaction, marker: int) -> list[Event] | None:
    """The events after `marker`; None when some may be missing (pruned) or there are too many.
    Pruning removes the oldest ids, so while the marker's own event is stored, none after it
    has been pruned."""
    if marker == 0:
        return [] if not tx.list_events(after=0, limit=1) else None
    events = tx.list_events(after=marker - 1, limit=MAX_EVENTS + 1)
    if not events or events[0].id != marker or len(events) > MAX_EVENTS:
        return None
    return events[1:]


def refreshed(tx: Transaction, fleet: Fleet | None, *, failures: bool) -> Fleet:
    """`fleet` brought up to the newest event (with last failures when `failures`)."""
    if fleet is None:
        return read_fleet(tx, failures=failures)
    failures = failures or fleet.has_failures
    events = events_since(tx, fleet.marker)
    changes = None if events is None else changes_in(events)
    if events is None or changes is None:
        return read_fleet(tx, failures=failures)
    if events:
        return _updated(tx, fleet, changes, marker=events[-1].id, failures=failures)
    if failures and not fleet.has_failures:
        return _with_failures(tx, fleet)
    return fleet


def _updated(
    tx: Transaction, fleet: Fleet, changes: Changes, *, marker: int, failures: bool
) -> Fleet:
    """`fleet` with what `changes` name read again."""
    apps = tuple(tx.list_apps()) if changes.definitions else fleet.apps
    stale = {app.id for app in apps if app.id in changes.apps or app.id not in fleet.facts}
    if len(stale) > MAX_CHANGED_APPS:
        return read_fleet(tx, failures=failures)
    deployments = deployments_by_app(tx.list_deployments()) if changes.deployments else None
    facts: dict[str, AppFacts] = {}
    for app in apps:
        known = _read_facts(tx, fleet, app.id) if app.id in stale else fleet.facts[app.id]
        if deployments is not None:
            ids = deployments.get(app.id, ())
            if known.deployment_ids != ids:
                known = known._replace(deployment_ids=ids)
        facts[app.id] = known
    updated = Fleet(marker, apps, facts, fleet.has_failures)
    return _with_failures(tx, updated) if failures and not fleet.has_failures else updated


def _read_facts(tx: Transaction, fleet: Fleet, app_id: str) -> AppFacts:
    """An app's facts with its instances (and last failure) read again. Its deployments are
    the fleet's: an app new to the fleet comes with an app event, which reads them again."""
    counts = Counts.of(tx.list_instances(app_id))
    failure = tx.get_task_failure(app_id) if fleet.has_failures else None
    known = fleet.facts.get(app_id)
    return AppFacts(counts, known.deployment_ids if known is not None else (), failure)


def _with_failures(tx: Transaction, fleet: Fleet) -> Fleet:
    last_failures = read_failures(tx, (app.id for app in fleet.apps))
    facts = {
        app_id: facts._replace(failure=last_failures.get(app_id))
        for app_id, facts in fleet.facts.items()
    }
    return replace(fleet, facts=facts, has_failures=True)


class Fragments:
    """Each app's entry as JSON bytes for one set of embeds, reused while the app has the same
    definition and the same facts."""

    def __init__(self, embeds: frozenset[str]) -> None:
        self._embeds = embeds
        self._entries: dict[str, tuple[AppDefinition, AppFacts, bytes]] = {}

    def fragment(self, app: AppDefinition, facts: AppFacts) -> bytes:
        entry = self._entries.get(app.id)
        if entry is not None and entry[1] == facts:
            if entry[0] is app:
                return entry[2]
            if entry[0] == app:  # the same definition, decoded again
                self._entries[app.id] = (app, facts, entry[2])
                return entry[2]
        fragment = orjson.dumps(render_app_facts(app, facts, self._embeds))
        self._entries[app.id] = (app, facts, fragment)
        return fragment

    def size(self) -> int:
        return len(self._entries)

    def keep_only(self, app_ids: Iterable[str]) -> None:
        entries = self._entries
        self._entries = {key: entries[key] for key in app_ids if key in entries}


class ListingCache:
    """Rendered bodies of `GET /v2/apps`, per query, reused while the marker is the same."""

    def __init__(self, capacity: int = 64) -> None:
        self._capacity = capacity
        self._bodies: dict[str, tuple[int, bytes]] = {}

    def get(self, query: str, marker: int) -> bytes | None:
        entry = self._bodies.get(query)
        return entry[1] if entry is not None and entry[0] == marker else None

    def put(self, query: str, marker: int, body: bytes) -> None:
        if len(self._bodies) >= self._capacity:
            self._bodies.clear()
        self._bodies[query] = (marker, body)


class AppListing:
    """The listing of one store: its newest fleet, the rendered fragments and bodies. Each
    refresh replaces the whole fleet, so a reader never sees half of one."""

    MAX_EMBED_SETS = 16

    def __init__(self) -> None:
        self._fleet: Fleet | None = None
        self._fragments: dict[frozenset[str], Fragments] = {}
        self._bodies = ListingCache()

    def fleet(self, tx: Transaction, *, failures: bool) -> Fleet:
        """The fleet as of the newest event `tx` sees (with last failures when `failures`)."""
        fleet = refreshed(tx, self._fleet, failures=failures)
        self._fleet = fleet
        return fleet

    def body(
        self,
        fleet: Fleet,
        query: str,
        embeds: Collection[str],
        selected: Callable[[AppDefinition], bool],
    ) -> bytes:
        """`{"apps": [...]}` of the `selected` apps of `fleet`, for the request's `query`."""
        cached = self._bodies.get(query, fleet.marker)
        if cached is not None:
            return cached
        fragments = self._fragments_for(frozenset(embeds) & RENDERED_EMBEDS)
        facts = fleet.facts
        parts = [fragments.fragment(app, facts[app.id]) for app in fleet.apps if selected(app)]
        if fragments.size() > len(fleet.apps):
            fragments.keep_only(app.id for app in fleet.apps)
        body = b'{"apps":[' + b",".join(parts) + b"]}"
        self._bodies.put(query, fleet.marker, body)
        return body

    def _fragments_for(self, embeds: frozenset[str]) -> Fragments:
        fragments = self._fragments.get(embeds)
        if fragments is None:
            if len(self._fragments) >= self.MAX_EMBED_SETS:
                self._fragments.clear()
            fragments = self._fragments[embeds] = Fragments(embeds)
        return fragments


_listings: WeakKeyDictionary[Store, AppListing] = WeakKeyDictionary()


def listing_of(store: Store) -> AppListing:
    """The listing of `store`: one per store, so servers (or tests) in one process never share
    one."""
    listing = _listings.get(store)
    if listing is None:
        listing = _listings[store] = AppListing()
    return listing
