"""Where tasks run. An engine only launches, kills, watches and reads logs; every decision is made
above it, in controllers."""

from conveyor.engines.protocol import Engine, LaunchSpec, TaskExit, TaskHandle

__all__ = ["Engine", "LaunchSpec", "TaskExit", "TaskHandle"]
