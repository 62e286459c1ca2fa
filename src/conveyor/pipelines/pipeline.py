"""`Pipeline`: what a pipeline file defines (as the module attribute `pipeline`).

```python
pipeline = Pipeline(
    name="my-service",
    trigger=git_commit("https://git.example.org/my-service.git", branch="main"),
    steps=[git_checkout(), in_parallel(unit_tests, lint), package, manual_trigger("ship?")],
)
```

Top-level steps get the ids `(1,)`, `(2,)`, ...; a nested list is a sequence; the children of a
control-flow step at `(2,)` are `(2, 1)`, `(2, 2)`, ... `structure` lists them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from conveyor.domain.builds import StepId
from conveyor.pipelines.control_flow import as_step
from conveyor.pipelines.steps import ControlFlow, StepFunction, step_name


@dataclass(frozen=True)
class GitCommitTrigger:
    """Build on every new commit of `branch`. Informational: the server learns of a pipeline
    (and its repository and branch) through its API, and watches the repository itself."""

    repository: str
    branch: str = "main"


def git_commit(repository: str, branch: str = "main") -> GitCommitTrigger:
    return GitCommitTrigger(repository, branch)


@dataclass(frozen=True)
class Pipeline:
    name: str
    steps: Sequence[StepFunction] = field(default=())
    trigger: GitCommitTrigger | None = None

    def __post_init__(self) -> None:
        steps: Any = self.steps
        object.__setattr__(self, "steps", tuple(as_step(s) for s in steps))

    @property
    def structure(self) -> tuple[tuple[StepId, str], ...]:
        """Every step the pipeline declares, depth first, as (id, name)."""
        return tuple(_structure(self.steps, ()))


def _structure(steps: Sequence[StepFunction], parent: StepId) -> list[tuple[StepId, str]]:
    entries: list[tuple[StepId, str]] = []
    for index, step in enumerate(steps, start=1):
        step_id = (*parent, index)
        entries.append((step_id, step_name(step)))
        if isinstance(step, ControlFlow):
            entries.extend(_structure(step.children, step_id))
    return entries
