"""A Python client of a Conveyor server's HTTP API (Marathon's `/v2` and the native `/api`).

Used by the `conveyor` command and by pipeline steps that deploy. Imports nothing else of
Conveyor: it knows the server only by its wire formats."""

from conveyor.client.conveyor_client import DEFAULT_SERVER, ConveyorClient
from conveyor.client.errors import (
    ClientError,
    Conflict,
    FieldError,
    Invalid,
    NotFound,
    ServerUnreachable,
)
from conveyor.client.models import (
    DeploymentAction,
    DeploymentOutcome,
    DeploymentProgress,
    DeploymentRef,
    DeploymentResult,
    JsonObject,
    KilledTasks,
    LogChunk,
    LogLine,
    normalize_app_id,
)

__all__ = [
    "DEFAULT_SERVER",
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
    "ServerUnreachable",
    "normalize_app_id",
]
