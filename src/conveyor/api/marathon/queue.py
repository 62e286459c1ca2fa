"""`/v2/queue`: apps with instances waiting to launch (backoff delay, or nowhere to place them),
and resetting an app's backoff delay."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from conveyor.api.context import context_of
from conveyor.api.marathon.render import ALWAYS_FOR_LIST, Snapshot, render_app
from conveyor.api.responses import FastJSONResponse
from conveyor.domain.apps import AppDefinition
from conveyor.domain.backoff import LaunchDelay, applies_to, is_overdue, time_left_seconds
from conveyor.domain.clock import format_timestamp
from conveyor.domain.documents import JsonObject, JsonValue
from conveyor.domain.errors import NotFound
from conveyor.domain.queue import unplaced_key
from conveyor.store import Transaction

router = APIRouter(include_in_schema=False)


def _delay_json(app: AppDefinition, delay: LaunchDelay | None, now: datetime) -> JsonObject:
    applicable = delay if delay is not None and applies_to(delay, app) else None
    return {
        "timeLeftSeconds": time_left_seconds(applicable, now),
        "overdue": is_overdue(applicable, now),
    }


def queue_item(
    tx: Transaction, app: AppDefinition, waiting: int, snapshot: Snapshot, now: datetime
) -> JsonObject:
    delay = tx.get_launch_delay(app.id)
    reason = tx.get_value(unplaced_key(app.id))
    rejects: list[JsonValue] = []
    if isinstance(reason, str):
        rejects.append({"reason": "UnfulfilledConstraint", "declined": 1, "processed": 1})
    return {
        "app": render_app(app, snapshot, set(ALWAYS_FOR_LIST)),
        "count": waiting,
        "delay": _delay_json(app, delay, now),
        "since": format_timestamp(delay.since if delay else app.version),
        "processedOffersSummary": {
            "processedOffersCount": len(rejects),
            "unusedOffersCount": len(rejects),
            "rejectSummaryLastOffers": rejects,
        },
        "lastUnusedOffers": [],
    }


@router.get("/v2/queue")
async def list_queue(request: Request) -> FastJSONResponse:
    context = context_of(request)
    now = context.clock.now()
    items: list[JsonValue] = []
    with context.store.transaction() as tx:
        apps = tx.list_apps()
        snapshot = Snapshot.read(tx, {app.id for app in apps}, failures=False)
        for app in apps:
            active = [i for i in snapshot.instances.get(app.id, []) if i.state.is_active]
            waiting = app.instances - len(active)
            if waiting > 0:
                items.append(queue_item(tx, app, waiting, snapshot, now))
    return FastJSONResponse({"queue": items})


@router.delete("/v2/queue/{app_id:path}/delay")
async def reset_delay(request: Request, app_id: str) -> Response:
    context = context_of(request)
    app_id = "/" + app_id.strip("/")
    with context.store.transaction() as tx:
        if tx.get_app(app_id) is None:
            raise NotFound(f"App '{app_id}' does not exist")
        tx.delete_launch_delay(app_id)
    context.control.wake()
    return Response(status_code=204)
