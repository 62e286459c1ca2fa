"""Pipelines as code: what a pipeline file imports, and the worker that runs one build.

```python
from conveyor.pipelines import Pipeline, git_checkout, git_commit, in_parallel, shell

def unit_tests(args, ctx):
    return shell(ctx, "pytest -q")

pipeline = Pipeline(
    name="my-service",
    trigger=git_commit("https://git.example.org/my-service.git"),
    steps=[git_checkout(), in_parallel(unit_tests, lint), package],
)
```

A step is a function `(args, ctx) -> StepResult | dict`; control flow is a function that takes
steps and returns a step. `python -m conveyor.pipelines.worker BUILD_DIR` runs one build (see
`worker`).
"""

from conveyor.pipelines.cancellation import Cancellation, StepCancelled
from conveyor.pipelines.context import Context, OutputWriter
from conveyor.pipelines.control_flow import (
    alias,
    either,
    in_cwd,
    in_parallel,
    junction,
    sequence,
    timeout,
    with_workspace,
)
from conveyor.pipelines.controls import BuildControls
from conveyor.pipelines.deploy import deploy_app
from conveyor.pipelines.execution import run_build
from conveyor.pipelines.git import git_checkout
from conveyor.pipelines.manual import manual_trigger
from conveyor.pipelines.pipeline import GitCommitTrigger, Pipeline, git_commit
from conveyor.pipelines.reporting import Reporter
from conveyor.pipelines.shell import shell
from conveyor.pipelines.steps import ControlFlow, StepResult

__all__ = [
    "BuildControls",
    "Cancellation",
    "Context",
    "ControlFlow",
    "GitCommitTrigger",
    "OutputWriter",
    "Pipeline",
    "Reporter",
    "StepCancelled",
    "StepResult",
    "alias",
    "deploy_app",
    "either",
    "git_checkout",
    "git_commit",
    "in_cwd",
    "in_parallel",
    "junction",
    "manual_trigger",
    "run_build",
    "sequence",
    "shell",
    "timeout",
    "with_workspace",
]
