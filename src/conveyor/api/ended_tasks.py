"""Tasks that ended recently, for `GET /api/tasks?ended=N`.

The store forgets an instance when it ends (as Marathon does), but the engine keeps its output,
and the event log keeps how it ended: a `status_update_event` with the end state, preceded, for a
kill, by one in TASK_KILLING whose message says why (`unhealthy: HTTP 404 from ...`). The newest
events are read backwards until enough ended tasks are found; an app's last task failure, which
the store keeps apart from the bounded event log, fills in when the log has forgotten it."""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.api.native_models import TaskModel
from conveyor.domain.clock import format_timestamp
from conveyor.domain.events import Event
from conveyor.domain.instances import InstanceState
from conveyor.store import Transaction

MAX_ENDED = 50
PAGE = 1000
_ENDINGS = frozenset(state.value for state in InstanceState if state.is_terminal)
_KILLING = InstanceState.KILLING.value


@dataclass
class _Ended:
    event: Event
    kill_reason: str | None = None

    def model(self) -> TaskModel:
        payload = self.event.payload
        message = str(payload.get("message") or "") or None
        ports = payload.get("ports")
        if self.kill_reason:
            message = f"{self.kill_reason} ({message})" if message else self.kill_reason
        return TaskModel(
            id=str(payload.get("taskId", "")),
            app_id=str(payload.get("appId", "")),
            state=str(payload.get("taskStatus", "")),
            host=str(payload.get("host", "")),
            ports=[p for p in ports if isinstance(p, int)] if isinstance(ports, list) else [],
            pid=None,
            version=str(payload.get("version", "")),
            staged_at=None,
            started_at=None,
            healthy=None,
            limits=None,
            ended_at=format_timestamp(self.event.at),
            message=message,
        )


def _is_of(event: Event, app_id: str | None) -> bool:
    return event.type == "status_update_event" and (
        app_id is None or event.payload.get("appId") == app_id
    )


def _ended_in_log(tx: Transaction, app_id: str | None, count: int) -> dict[str, _Ended]:
    found: dict[str, _Ended] = {}
    upper, last_page = tx.last_event_id(), False
    while upper > 0 and not last_page:
        last_page = len(found) >= count  # one page more, for the kills that led to the ends
        lower = max(0, upper - PAGE)
        for event in reversed(tx.list_events(after=lower, limit=upper - lower)):
            if not _is_of(event, app_id):
                continue
            task_id, status = str(event.payload.get("taskId")), event.payload.get("taskStatus")
            if status in _ENDINGS and task_id not in found and len(found) < count:
                found[task_id] = _Ended(event)
            elif status == _KILLING and task_id in found and found[task_id].kill_reason is None:
                found[task_id].kill_reason = str(event.payload.get("message") or "") or None
        upper = lower
    return found


def recently_ended(tx: Transaction, app_id: str | None, count: int) -> list[TaskModel]:
    """Up to `count` of the app's (or every app's) most recently ended tasks, newest first."""
    ended = [entry.model() for entry in _ended_in_log(tx, app_id, count).values()]
    failure = tx.get_task_failure(app_id) if app_id is not None else None
    if failure is not None and failure.task_id not in {task.id for task in ended}:
        ended.append(
            TaskModel(
                id=failure.task_id,
                app_id=failure.app_id,
                state=failure.state.value,
                host=failure.host,
                ports=[],
                pid=None,
                version=format_timestamp(failure.version),
                staged_at=None,
                started_at=None,
                healthy=None,
                limits=None,
                ended_at=format_timestamp(failure.timestamp),
                message=failure.message,
            )
        )
    ended.sort(key=lambda task: task.ended_at or "", reverse=True)
    return ended[:count]
