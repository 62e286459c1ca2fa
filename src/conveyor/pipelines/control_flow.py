"""Control flow: functions that take steps and return a step (a `ControlFlow`).

The children of a control-flow step run through the executor's chain, so each is reported on
its own (ids: the parent's plus `(1,)`, `(2,)`, ...). A parent's result carries its children's
values, not their output (they reported that themselves).

- a list (or `sequence(*steps)`): one after the other, until one does not succeed
- `in_parallel(*steps)`: all at once, each in a thread; succeeds when all do; values merged
- `either(*steps)`: all at once; the first to succeed wins, the others are cancelled (killed;
  `either` ends when they have stopped)
- `junction(condition, then, else_)`: `then` when `condition` succeeds, else `else_`
- `alias(name, step)`: `step`, shown under `name`
- `with_workspace(*steps)`: in sequence, in a fresh temporary workspace removed afterwards
- `in_cwd(path, *steps)`: in sequence, shell commands running in `path` (relative: to the
  current working directory)
- `timeout(seconds, step)`: `step`, cancelled when time is up (then: failure, "timed out")
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from conveyor.domain.build_reports import StepFinished
from conveyor.domain.builds import StepStatus, format_step_id
from conveyor.pipelines.context import Context
from conveyor.pipelines.execution import execution_of, merge_values, run_child, run_sequence
from conveyor.pipelines.steps import Args, ControlFlow, StepFunction, StepResult, failure


def as_step(step: Any) -> StepFunction:
    """A step as given by a pipeline author: a function, a control-flow step, or a list (a
    sequence)."""
    if isinstance(step, list | tuple):
        return sequence(*step)
    if not callable(step):
        raise TypeError(f"not a step (a function of args and ctx, or a list of them): {step!r}")
    function: StepFunction = step
    return function


def _steps(steps: Sequence[Any]) -> tuple[StepFunction, ...]:
    return tuple(as_step(step) for step in steps)


def sequence(*steps: Any) -> ControlFlow:
    children = _steps(steps)
    return ControlFlow("sequence", children, lambda args, ctx: run_sequence(children, args, ctx))


def as_parent_result(result: StepResult) -> StepResult:
    """A child's result as its parent's: status, values, message and the failed steps, not
    output or details."""
    return StepResult(
        result.status,
        values=result.values,
        message=result.message,
        failed_steps=result.failed_steps,
    )


OnResult = Callable[[int, StepResult, list[Context]], None]


def run_concurrently(
    children: Sequence[StepFunction], args: Args, ctx: Context, on_result: OnResult | None = None
) -> list[StepResult]:
    """Run each child in its own thread; `on_result(index, result, contexts)` is called as each
    ends (index from 0; `contexts` are the children's, to cancel them)."""
    execution = execution_of(ctx)
    contexts = [execution.child_context(ctx, i) for i in range(1, len(children) + 1)]
    results: list[StepResult | None] = [None] * len(children)

    def run(index: int) -> None:
        result = execution.execute(children[index], args, contexts[index])
        results[index] = result
        if on_result is not None:
            on_result(index, result, contexts)

    threads = [
        threading.Thread(
            target=run, args=(i,), name=f"step-{format_step_id(c.step_id)}", daemon=True
        )
        for i, c in enumerate(contexts)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r if r is not None else failure("step thread ended without a result") for r in results]


def _combined(results: Sequence[StepResult], ctx: Context) -> StepResult:
    """All succeeded: success; else failure if one failed, else killed. Values merged."""
    values: dict[str, Any] = {}
    for result in results:
        values = merge_values(values, result.values)
    failed = tuple(step for result in results for step in result.failed_steps)
    for status in (StepStatus.FAILURE, StepStatus.KILLED):
        for index, result in enumerate(results, start=1):
            if result.status is status:
                child = format_step_id((*ctx.step_id, index))
                reason = result.message or status.value
                message = f"{child}: {reason}"
                return StepResult(status, values=values, message=message, failed_steps=failed)
    return StepResult(StepStatus.SUCCESS, values=values)


def in_parallel(*steps: Any) -> ControlFlow:
    children = _steps(steps)

    def run(args: Args, ctx: Context) -> StepResult:
        return _combined(run_concurrently(children, args, ctx), ctx)

    return ControlFlow("in_parallel", children, run)


def either(*steps: Any) -> ControlFlow:
    children = _steps(steps)

    def run(args: Args, ctx: Context) -> StepResult:
        winners: list[int] = []
        lock = threading.Lock()

        def on_result(index: int, result: StepResult, contexts: list[Context]) -> None:
            with lock:
                if not result.is_success or winners:
                    return
                winners.append(index)
            reason = f"{format_step_id(contexts[index].step_id)} succeeded first"
            for other, context in enumerate(contexts):
                if other != index:
                    context.cancelled.cancel(reason)

        results = run_concurrently(children, args, ctx, on_result)
        if winners:
            return as_parent_result(results[winners[0]])
        return _combined(results, ctx)

    return ControlFlow("either", children, run)


def junction(condition: Any, then: Any, else_: Any) -> ControlFlow:
    children = (as_step(condition), as_step(then), as_step(else_))

    def run(args: Args, ctx: Context) -> StepResult:
        decided = run_child(children[0], args, ctx, 1)
        if decided.status is StepStatus.KILLED:
            return as_parent_result(decided)
        branch, other = (2, 3) if decided.is_success else (3, 2)
        condition = format_step_id((*ctx.step_id, 1))
        outcome = "succeeded" if decided.is_success else "failed"
        report_skipped(ctx, other, f"not taken: condition {condition} {outcome}")
        # the condition's failure, if any, was the question, not the answer: only the branch
        # taken can fail the junction
        return as_parent_result(run_child(children[branch - 1], args, ctx, branch))

    return ControlFlow("junction", children, run)


def report_skipped(ctx: Context, index: int, message: str) -> None:
    """Report the `index`-th child of `ctx`'s step as skipped: it will not run."""
    execution = execution_of(ctx)
    step = (*ctx.step_id, index)
    now = execution.clock.now()
    execution.report(StepFinished(step, StepStatus.SKIPPED, now, message=message))


def alias(name: str, step: Any) -> ControlFlow:
    children = (as_step(step),)
    return ControlFlow(
        name, children, lambda args, ctx: as_parent_result(run_child(children[0], args, ctx, 1))
    )


def with_workspace(*steps: Any) -> ControlFlow:
    children = _steps(steps)

    def run(args: Args, ctx: Context) -> StepResult:
        prefix = f"conveyor-{ctx.pipeline}-{ctx.build_number}-"
        workspace = Path(tempfile.mkdtemp(prefix=prefix))
        try:
            return run_sequence(children, args, replace(ctx, workspace=workspace, cwd=None))
        finally:
            shutil.rmtree(workspace, ignore_errors=True)

    return ControlFlow("with_workspace", children, run)


def in_cwd(path: str | Path, *steps: Any) -> ControlFlow:
    children = _steps(steps)

    def run(args: Args, ctx: Context) -> StepResult:
        return run_sequence(children, args, replace(ctx, cwd=ctx.working_directory / path))

    return ControlFlow(f"in_cwd {path}", children, run)


def timeout(seconds: float, step: Any) -> ControlFlow:
    children = (as_step(step),)
    message = f"timed out after {seconds:g} s"

    def run(args: Args, ctx: Context) -> StepResult:
        execution = execution_of(ctx)
        child = execution.child_context(ctx, 1)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            child.cancelled.cancel(message)

        timer = threading.Timer(seconds, expire)
        timer.daemon = True
        timer.start()
        try:
            result = execution.execute(children[0], args, child)
        finally:
            timer.cancel()
        if expired.is_set() and not result.is_success:
            return StepResult(StepStatus.FAILURE, values=result.values, message=message)
        return as_parent_result(result)

    return ControlFlow(f"timeout {seconds:g} s", children, run)
