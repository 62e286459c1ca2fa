"""A Python client of a Conveyor server's HTTP API (Marathon's `/v2` and the native `/api`).

Used by the `conveyor` command and by pipeline steps that deploy. Imports nothing else of
Conveyor: it knows the server only by its wire formats."""

from conveyor.client.conveyor_client import DEFAULT_SERVER, ConveyorClient
from conveyor.client.definitions import UnknownField, unknown_fields
from conveyor.client.errors import (
    ClientError,
    Conflict,
    FieldError,
    Invalid,
    NotFound,
    ServerUnreachable,
)
from conveyor.client.models import (
    BuildPage,
    DeploymentAction,
    DeploymentOutcome,
    DeploymentProgress,
    DeploymentRef,
    DeploymentResult,
    JsonObject,
    KilledTasks,
    LogChunk,
    LogLine,
    OutputLine,
    all_steps,
    build_has_ended,
    find_step,
    normalize_app_id,
    step_has_ended,
)

__all__ = [
    "DEFAULT_SERVER",
    "BuildPage",
    "ClientError",
    "Conflict",
    "ConveyorClient",
    "DeploymentAction",
    "DeploymentOutcome",
    "DeploymentProgress",
    "DeploymentRef",
    "DeploymentResult",
    "FieldError",
    "Invalid",
    "JsonObject",
    "KilledTasks",
    "LogChunk",
    "LogLine",
    "NotFound",
    "OutputLine",
    "ServerUnreachable",
    "UnknownField",
    "all_steps",
    "build_has_ended",
    "find_step",
    "normalize_app_id",
    "step_has_ended",
    "unknown_fields",
]
