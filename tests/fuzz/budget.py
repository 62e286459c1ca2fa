"""How much fuzzing the suite affords: hypothesis settings shared by every fuzz test.

The whole fuzz suite adds about two minutes of CPU to the test run, so each test gets a bounded
number of examples. Examples are derived from each test function (`derandomize`) and no example
database is read or written, so CI runs exactly the cases a developer runs. There is no deadline:
a case's time is the server's, measured by the one-second `/ping` after it, not by hypothesis.
"""

from __future__ import annotations

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
"""The settings of a fuzz test; a test that needs fewer or more examples says so beside it:
`@settings(FUZZ, max_examples=20)`."""
