"""The executor: runs a pipeline's steps and reports what happens.

Every step, at any depth, goes through the same chain of one-purpose wrappers (LambdaCD's
design), innermost first:

    call            the step function, with what it prints going to its output (see
                    `step_streams`); what it returned as a StepResult ("no status" → failure)
    started         report StepStarted
    failure         an exception becomes a failure with its traceback as output
    kill handling   a cancelled step ends killed (one cancelled before it starts is not run);
                    KillStep commands find the step while it runs
    finished        write the result's output, report StepFinished; a failure that names no
                    failed step inside it names itself (`failed_steps`)
    reuse           retriggered builds: a step before the retriggered one is not run; it is
                    reported finished as recorded (`reused`) and its values flow on

Control flow (see `control_flow`) runs its children through the same chain with `run_child`.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from conveyor.domain.build_orders import RecordedStep
from conveyor.domain.build_reports import Report, StepFinished, StepStarted
from conveyor.domain.builds import BuildStatus, StepId, StepStatus, format_step_id, is_ancestor
from conveyor.domain.clock import Clock, SystemClock
from conveyor.pipelines.cancellation import StepCancelled
from conveyor.pipelines.context import Context, OutputWriter
from conveyor.pipelines.reporting import Reporter
from conveyor.pipelines.step_streams import printing_to, redirected_to_steps
from conveyor.pipelines.steps import Args, StepFunction, StepResult, step_name, to_step_result

if TYPE_CHECKING:
    from conveyor.pipelines.pipeline import Pipeline

Handler = Callable[[StepFunction, Args, Context], StepResult]


class Execution:
    """One build's executor: the reporter, the retrigger record, and the assembled chain."""

    def __init__(
        self,
        reporter: Reporter,
        *,
        recorded: Mapping[StepId, RecordedStep] | None = None,
        retrigger_from: StepId | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.reporter = reporter
        self.recorded = dict(recorded or {})
        self.retrigger_from = retrigger_from
        self.clock = clock or SystemClock()
        handler: Handler = call_step
        for wrapper in (started, exception_to_failure, kill_handling, finished, reuse_recorded):
            handler = wrapper(handler, self)
        self.execute = handler

    def report(self, report: Report) -> None:
        self.reporter.report(report)

    def child_context(self, parent: Context, index: int, **changes: Any) -> Context:
        """The context of the `index`-th (from 1) child of the step `parent` belongs to."""
        step_id = (*parent.step_id, index)
        return replace(
            parent,
            step_id=step_id,
            output=OutputWriter(step_id, self.reporter, self.clock),
            cancelled=parent.cancelled.child(),
            **changes,
        )

    def reused_step(self, step: StepId) -> RecordedStep | None:
        """The recorded step to report instead of running `step`, when it comes before the
        step the build was retriggered from (and is not one of its ancestors)."""
        target = self.retrigger_from
        if target is None or not (step < target and not is_ancestor(step, target)):
            return None
        return self.recorded.get(step)


def call_step(step: StepFunction, args: Args, ctx: Context) -> StepResult:
    with printing_to(ctx.output):
        return to_step_result(step(args, ctx))


def started(handler: Handler, execution: Execution) -> Handler:
    def handle(step: StepFunction, args: Args, ctx: Context) -> StepResult:
        execution.report(StepStarted(ctx.step_id, step_name(step), execution.clock.now()))
        return handler(step, args, ctx)

    return handle


def exception_to_failure(handler: Handler, execution: Execution) -> Handler:
    def handle(step: StepFunction, args: Args, ctx: Context) -> StepResult:
        try:
            return handler(step, args, ctx)
        except StepCancelled as cancelled:
            return StepResult(StepStatus.KILLED, message=str(cancelled))
        except Exception as error:
            message = f"{type(error).__name__}: {error}"
            return StepResult(StepStatus.FAILURE, traceback.format_exc(), message=message)

    return handle


def kill_handling(handler: Handler, execution: Execution) -> Handler:
    def handle(step: StepFunction, args: Args, ctx: Context) -> StepResult:
        cancelled = ctx.cancelled
        try:
            if cancelled.is_set():
                return StepResult(StepStatus.KILLED, message=cancelled.reason)
            with ctx.controls.running(ctx.step_id, cancelled):
                result = handler(step, args, ctx)
            if cancelled.is_set() and not result.is_success:
                message = result.message if result.status is StepStatus.KILLED else None
                return replace(
                    result, status=StepStatus.KILLED, message=message or cancelled.reason
                )
            return result
        finally:
            cancelled.detach()

    return handle


def finished(handler: Handler, execution: Execution) -> Handler:
    def handle(step: StepFunction, args: Args, ctx: Context) -> StepResult:
        result = handler(step, args, ctx)
        if result.status is StepStatus.FAILURE and not result.failed_steps:
            result = replace(result, failed_steps=(ctx.step_id,))
        if result.output:
            ctx.output.write(result.output)
        released = result.released
        execution.report(
            StepFinished(
                step=ctx.step_id,
                status=result.status,
                at=execution.clock.now(),
                details=result.details,
                values=dict(result.values),
                message=result.message,
                released_by=None if released is None else released.by,
                released_parameters=None if released is None else dict(released.parameters),
            )
        )
        return result

    return handle


def reuse_recorded(handler: Handler, execution: Execution) -> Handler:
    if execution.retrigger_from is None:
        return handler

    def handle(step: StepFunction, args: Args, ctx: Context) -> StepResult:
        recorded = execution.reused_step(ctx.step_id)
        if recorded is None:
            return handler(step, args, ctx)
        ctx.cancelled.detach()
        inside = [r for r in execution.recorded.values() if is_ancestor(ctx.step_id, r.step)]
        for child in sorted(inside, key=lambda r: r.step):
            report_reused(execution, child)
        report_reused(execution, recorded)
        return StepResult(recorded.status, values=dict(recorded.values))

    return handle


def report_reused(execution: Execution, recorded: RecordedStep) -> None:
    execution.report(
        StepFinished(
            step=recorded.step,
            status=recorded.status,
            at=execution.clock.now(),
            values=dict(recorded.values),
            reused=True,
        )
    )


def execution_of(ctx: Context) -> Execution:
    if ctx.execution is None:
        raise RuntimeError("this context is not one of a running build (see run_build)")
    return ctx.execution


def run_child(
    step: StepFunction, args: Args, ctx: Context, index: int, **changes: Any
) -> StepResult:
    """Run `step` as the `index`-th child of the step `ctx` belongs to."""
    execution = execution_of(ctx)
    return execution.execute(step, args, execution.child_context(ctx, index, **changes))


def merge_values(values: Mapping[str, Any], more: Mapping[str, Any]) -> dict[str, Any]:
    """`more` over `values`, except that their `global` dicts are merged."""
    merged = {**values, **more}
    global_values = {**(values.get("global") or {}), **(more.get("global") or {})}
    if global_values:
        merged["global"] = global_values
    return merged


def run_sequence(steps: Sequence[StepFunction], args: Args, ctx: Context) -> StepResult:
    """Run the steps one after the other as children of `ctx`'s step, until one does not
    succeed. Each gets the sequence's args, the values of the step before it, and the `global`
    values of all before it. The result: the last step's status; all values merged."""
    values: dict[str, Any] = {}
    step_args: Args = args
    for index, step in enumerate(steps, start=1):
        result = run_child(step, step_args, ctx, index)
        values = merge_values(values, result.values)
        if not result.is_success:
            return summarize((*ctx.step_id, index), result, values)
        step_args = next_args(args, result.values, values.get("global"))
    return StepResult(StepStatus.SUCCESS, values=values)


def next_args(
    args: Args, values: Mapping[str, Any], global_values: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The sequence's args, the previous step's values over them, and all `global` values."""
    step_args = {**args, **values}
    if global_values or args.get("global"):
        step_args["global"] = {**(args.get("global") or {}), **(global_values or {})}
    return step_args


def summarize(child: StepId, result: StepResult, values: Mapping[str, Any]) -> StepResult:
    """The result of a step whose child `child` ended with `result`."""
    reason = result.message or result.status.value
    return StepResult(
        result.status,
        values=values,
        message=f"{format_step_id(child)}: {reason}",
        failed_steps=result.failed_steps,
    )


def build_status(result: StepResult) -> BuildStatus:
    if result.status is StepStatus.SUCCESS:
        return BuildStatus.SUCCESS
    if result.status is StepStatus.KILLED:
        return BuildStatus.KILLED
    return BuildStatus.FAILURE


def run_build(
    pipeline: Pipeline,
    *,
    context: Context,
    reporter: Reporter,
    recorded: Mapping[StepId, RecordedStep] | None = None,
    retrigger_from: StepId | None = None,
    clock: Clock | None = None,
) -> BuildStatus:
    """Run the pipeline's steps with `context` as the root (its `controls` deliver commands),
    reporting through `reporter`. Returns how the build ended (BuildStarted/BuildFinished are
    the caller's to report)."""
    return build_status(
        execute_build(
            pipeline,
            context=context,
            reporter=reporter,
            recorded=recorded,
            retrigger_from=retrigger_from,
            clock=clock,
        )
    )


def execute_build(
    pipeline: Pipeline,
    *,
    context: Context,
    reporter: Reporter,
    recorded: Mapping[StepId, RecordedStep] | None = None,
    retrigger_from: StepId | None = None,
    clock: Clock | None = None,
) -> StepResult:
    """`run_build`, answering with the result of the pipeline's steps as a sequence (its
    `failed_steps`: the failures that failed the build)."""
    execution = Execution(reporter, recorded=recorded, retrigger_from=retrigger_from, clock=clock)
    root = replace(context, step_id=(), execution=execution)
    with redirected_to_steps():
        return run_sequence(pipeline.steps, {}, root)
