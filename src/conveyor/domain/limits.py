"""What one request may carry. Every limit is a clear 4xx at the edge, so no input can make a
request, a controller pass or a listing slow, or a process launch fail on the host's own limits
(a single environment string or argument longer than 128 KiB makes `execve` fail).

The figures are far above what a real definition uses; docs/marathon-api.md lists them.
"""

from __future__ import annotations

MAX_REQUEST_BYTES = 4 << 20
"""The default limit of a request body (`--max-request-bytes`)."""

MIN_REQUEST_BYTES = 2 << 20
"""The lowest that limit may be set to: a build worker ships its reports in requests of up to
about 1.5 MiB (1 MB of spooled reports, plus one report of at most 64 KiB and one line)."""

MAX_JSON_DEPTH = 32
"""How deeply arrays and objects may nest in a JSON body (an app definition nests about 5)."""

MAX_ID_SEGMENTS = 16
MAX_ID_SEGMENT_LENGTH = 63
MAX_ID_LENGTH = 255

MAX_INSTANCES = 10_000

MAX_ENV_VARIABLES = 512
MAX_ENV_NAME_LENGTH = 255
MAX_ENV_VALUE_BYTES = 64 << 10
MAX_ENV_TOTAL_BYTES = 256 << 10

MAX_LABELS = 128
MAX_LABEL_KEY_LENGTH = 255
MAX_LABEL_VALUE_BYTES = 8 << 10

MAX_CMD_BYTES = 64 << 10
MAX_ARGS = 256

MAX_HEALTH_CHECKS = 16
MAX_CONSTRAINTS = 32
MAX_PORTS = 64
MAX_DEPENDENCIES = 128
MAX_URIS = 64

MAX_APPS_PER_REQUEST = 1000
"""Apps in one `PUT /v2/apps` array or one group body (at any depth)."""

MAX_GROUP_DEPTH = MAX_ID_SEGMENTS
"""Groups nest no deeper than their ids (and a body no deeper than MAX_JSON_DEPTH) allow."""

MAX_TASK_IDS = 10_000
"""Task ids in one `POST /v2/tasks/delete`."""

MAX_POLL_SECONDS = 86_400
MAX_CONCURRENT_BUILDS = 100
MAX_BUILD_TIMEOUT_SECONDS = 7 * 86_400
MAX_KEEP_BUILDS = 1_000_000
MAX_KEEP_DAYS = 36_500
MAX_PIPELINE_TEXT = 4096
"""The longest repository URL, branch, pipeline file path or secret of a pipeline."""

MAX_BUILD_NUMBER = 2**63 - 1
"""Build numbers are 64-bit in the store; a larger one in a path names no build."""

MAX_LOG_OFFSET = 2**48
"""The largest byte offset into a task's log a request may ask for (256 TiB)."""
