"""The build worker: `python -m conveyor.pipelines.worker BUILD_DIR [--ship-deadline SECONDS]`.

One process runs one build. The server writes `BUILD_DIR/build.json` (a `BuildOrder`, see
`conveyor.domain.build_orders`) and starts the worker; the worker

1. clones or fetches the order's repository (URL or local path, `git` CLI) into
   `BUILD_DIR/source` and checks out the order's commit (the branch's head when it names none),
2. loads the pipeline file (`order.file`) from that checkout and takes its sha256,
3. reports `BuildStarted` (commit, digest, the steps' structure), runs the build in the order's
   workspace (made if missing; a retriggered build's order names the original's, and reuses the
   steps before the retriggered one), and reports `BuildFinished`,
4. waits until the server has acknowledged every report, then exits.

Everything reported goes first to the spool `BUILD_DIR/reports.jsonl` (format: see
`conveyor.pipelines.reporters.spool`), from which a thread ships it to
`{server}/api/pipelines/{pipeline}/builds/{number}/reports` (protocol: see
`conveyor.pipelines.shipping`); the answers carry the server's commands (release a manual
trigger, kill a step, kill the build). While the server is away the build goes on and the spool
keeps everything. A checkout or pipeline file that fails is a failed build (`BuildFinished` with
a message; `BuildStarted` is reported whenever the commit is known, with digest "" when there is
no pipeline file). An order with `timeout_seconds` is cancelled when they have passed: failure,
"build timed out after N s".

SIGTERM kills the build (its steps' process groups included; a manual trigger stops waiting):
`BuildFinished(killed, "the build worker was terminated")`. The worker then gives the server at
most `TERM_SHIP_SECONDS` to take its reports (the spool keeps the rest: the server reads it when
the worker has ended), and if the build has not ended `TERM_GRACE_SECONDS` after the signal (a
step that ignores its cancellation), it records the end in the spool and exits anyway.

Exit status: 0 the build ran (whatever its result) and the server has all reports; 75 the build
ran but the server did not acknowledge every report within the deadline (default 600 s; after a
SIGTERM, `TERM_SHIP_SECONDS`): the spool holds them; 143 terminated by SIGTERM and a step did not
stop in time; 1 the worker itself broke (it reports `BuildFinished(failure, message)` first
when it can); 2 the build directory is unusable (no readable build.json, or a spool exists
already: a build directory serves one worker run).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from conveyor.domain.build_orders import BuildOrder, order_from_json
from conveyor.domain.build_reports import BuildFinished, BuildStarted, Command, KillBuild
from conveyor.domain.builds import BuildStatus
from conveyor.domain.clock import SystemClock
from conveyor.pipelines.context import Context
from conveyor.pipelines.controls import BuildControls
from conveyor.pipelines.execution import build_status, execute_build
from conveyor.pipelines.git import SourceError, check_out_source
from conveyor.pipelines.loading import file_digest, load_pipeline
from conveyor.pipelines.reporters.spool import SpoolReporter
from conveyor.pipelines.reporting import Reporter
from conveyor.pipelines.shipping import Shipper

EXIT_UNSHIPPED = 75
EXIT_UNUSABLE = 2
EXIT_TERMINATED = 128 + signal.SIGTERM
TERM_SHIP_SECONDS = 3.0
"""After a SIGTERM: how long the server gets to take the last reports."""
TERM_GRACE_SECONDS = 5.0
"""After a SIGTERM: how long the build gets to end before the worker exits anyway."""
TERMINATED = "the build worker was terminated"
SPOOL_FILE = "reports.jsonl"
_clock = SystemClock()


def reports_url(order: BuildOrder) -> str:
    return (
        f"{order.server.rstrip('/')}/api/pipelines/{order.pipeline}/builds/{order.number}/reports"
    )


def _failed(message: str) -> BuildFinished:
    return BuildFinished(BuildStatus.FAILURE, _clock.now(), message=message)


def run_order(
    order: BuildOrder, build_dir: Path, reporter: Reporter, controls: BuildControls
) -> BuildFinished:
    """Check out, load, run: the build of `order`, reported; returns how it finished (for the
    caller to report)."""
    try:
        commit = check_out_source(
            order.repository, order.branch, order.commit, build_dir / "source"
        )
    except SourceError as error:
        return _failed(f"cannot check out the pipeline: {error}")
    path = build_dir / "source" / order.file
    digest = file_digest(path)
    try:
        pipeline = load_pipeline(path, import_root=build_dir / "source")
    except Exception as error:
        reporter.report(BuildStarted(_clock.now(), commit, digest))
        traceback.print_exc()
        problem = "".join(traceback.format_exception_only(error)).strip()
        return _failed(f"cannot load the pipeline file {order.file}: {problem}")
    reporter.report(BuildStarted(_clock.now(), commit, digest, pipeline.structure))
    workspace = Path(order.workspace)
    workspace.mkdir(parents=True, exist_ok=True)
    context = Context.for_build(
        order.pipeline,
        order.number,
        workspace,
        commit=commit,
        repository=order.repository,
        parameters=order.parameters,
        server=order.server,
        controls=controls,
    )
    result = execute_build(
        pipeline,
        context=context,
        reporter=reporter,
        recorded={recorded.step: recorded for recorded in order.recorded},
        retrigger_from=order.retrigger_from,
    )
    status = build_status(result)
    message = controls.cancellation.reason if status is BuildStatus.KILLED else None
    failed = result.failed_steps if status is BuildStatus.FAILURE else ()
    return BuildFinished(status, _clock.now(), message=message, failed_steps=failed)


def run_order_in_time(
    order: BuildOrder, build_dir: Path, reporter: Reporter, controls: BuildControls
) -> BuildFinished:
    """`run_order`, cancelled when the order's timeout (counted from now) has passed."""
    if order.timeout_seconds is None:
        return run_order(order, build_dir, reporter, controls)
    message = f"build timed out after {order.timeout_seconds} s"
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        controls.cancellation.cancel(message)

    timer = threading.Timer(order.timeout_seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        finished = run_order(order, build_dir, reporter, controls)
    finally:
        timer.cancel()
    if expired.is_set() and finished.status is not BuildStatus.SUCCESS:
        return _failed(message)
    return finished


def work(build_dir: Path, *, ship_deadline: float) -> int:
    try:
        order = order_from_json((build_dir / "build.json").read_text())
        spool = SpoolReporter(build_dir / SPOOL_FILE)
    except (OSError, ValueError, KeyError) as error:
        print(f"conveyor worker: {build_dir}: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    controls = BuildControls()

    def apply_commands(commands: Sequence[Command]) -> None:
        for command in commands:
            controls.apply(command)

    shipper = Shipper(spool.path, reports_url(order), order.token, apply_commands)
    spool.on_append = shipper.notify
    shipper.start()
    terminated = _kill_on_sigterm(controls, spool)
    exit_code = 0
    try:
        finished = run_order_in_time(order, build_dir, spool, controls)
    except Exception as error:
        traceback.print_exc()
        finished, exit_code = _failed(f"the build worker broke: {error!r}"), 1
    try:
        spool.report(finished)
        spool.close()
    except Exception:
        traceback.print_exc()
        exit_code = 1
    if terminated.is_set():
        ship_deadline = min(ship_deadline, TERM_SHIP_SECONDS)
    if not shipper.finish(ship_deadline):
        print(f"conveyor worker: reports left unshipped in {spool.path}", file=sys.stderr)
        return exit_code or EXIT_UNSHIPPED
    return exit_code


def _kill_on_sigterm(controls: BuildControls, spool: SpoolReporter) -> threading.Event:
    """On SIGTERM, kill the build; if it has not ended `TERM_GRACE_SECONDS` later, record its
    end in the spool and exit. The event tells whether SIGTERM came."""
    terminated = threading.Event()

    def give_up() -> None:
        print(f"conveyor worker: the build did not end {TERM_GRACE_SECONDS:g} s after SIGTERM")
        with contextlib.suppress(Exception):
            spool.report(BuildFinished(BuildStatus.KILLED, _clock.now(), message=TERMINATED))
            spool.close()
        os._exit(EXIT_TERMINATED)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if not terminated.is_set():
            terminated.set()
            timer = threading.Timer(TERM_GRACE_SECONDS, give_up)
            timer.daemon = True
            timer.start()
        controls.apply(KillBuild(TERMINATED))

    signal.signal(signal.SIGTERM, on_sigterm)
    return terminated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conveyor.pipelines.worker")
    parser.add_argument("build_dir", type=Path, help="the directory holding build.json")
    parser.add_argument(
        "--ship-deadline",
        type=float,
        default=600.0,
        help="seconds to keep trying to deliver reports after the build (default 600)",
    )
    arguments = parser.parse_args(argv)
    return work(arguments.build_dir, ship_deadline=arguments.ship_deadline)


if __name__ == "__main__":
    sys.exit(main())
