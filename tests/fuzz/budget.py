"""How much fuzzing the suite affords: hypothesis settings shared by every fuzz test.

The whole fuzz suite adds about two minutes of CPU to the test run, so each test gets a bounded
number of examples. Examples are derived from each test function (`derandomize`) and no example
database is read or written, so CI runs exactly the cases a developer runs. There is no deadline:
a case's time is the server's, measured by the one-second `/ping` after it, not by hypothesis.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)
"""The settings every fuzz test shares; each says how many examples it gets with `examples`."""

SCALE = float(os.environ.get("CONVEYOR_FUZZ_SCALE", "1"))
"""Multiplies every test's examples: `CONVEYOR_FUZZ_SCALE=20 ./scripts/test tests/fuzz` fuzzes
twenty times longer (other cases: derandomized examples depend on the count)."""


def examples(count: int) -> settings:
    """The fuzz settings with `count` examples (times `SCALE`)."""
    return settings(FUZZ, max_examples=max(1, round(count * SCALE)))
