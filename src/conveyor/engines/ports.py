"""Host ports for tasks: the engine owns a range (Mesos offered ports; here nobody offers them).

A port is never given to two live tasks, and a port something else on the host already listens on
is skipped. Tasks learn their ports from the variables Marathon sets: `PORT0..n`, `PORT`, `PORTS`,
`PORT_<NAME>` and `HOST`.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator

from conveyor.domain.errors import Unavailable

_CHECKED_ADDRESSES = ("0.0.0.0", "127.0.0.1")


def is_bindable(port: int) -> bool:
    """True when a TCP listener could bind `port` on every checked address right now."""
    for address in _CHECKED_ADDRESSES:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError:
                return False
    return True


class PortPool:
    """The ports of `first..last` (inclusive) and which live task holds each."""

    def __init__(self, first: int, last: int) -> None:
        if not 0 < first <= last < 65536:
            raise ValueError(f"bad port range {first}-{last}")
        self.first = first
        self.last = last
        self._owners: dict[int, str] = {}
        self._next = first  # hand ports out round the range, so a freed port rests a while

    def allocate(self, owner: str, count: int) -> tuple[int, ...]:
        """`count` free ports of the range for `owner`; Unavailable when the range has too few."""
        chosen: list[int] = []
        for port in self._candidates():
            if len(chosen) == count:
                break
            if port not in self._owners and is_bindable(port):
                chosen.append(port)
        if len(chosen) < count:
            raise Unavailable(f"no {count} free ports in {self.first}-{self.last} for task {owner}")
        if chosen:
            self._next = self._following(chosen[-1])
        self.hold(owner, chosen)
        return tuple(chosen)

    def claim(self, owner: str, ports: Iterable[int]) -> tuple[int, ...]:
        """Exactly `ports` for `owner` (Marathon's requirePorts), or Unavailable."""
        wanted = tuple(ports)
        for port in wanted:
            holder = self._owners.get(port)
            if holder is not None:
                raise Unavailable(f"port {port} is held by task {holder}")
            if not is_bindable(port):
                raise Unavailable(f"port {port} is in use on this host")
        if len(set(wanted)) != len(wanted):
            raise Unavailable(f"ports {list(wanted)} repeat a port")
        self.hold(owner, wanted)
        return wanted

    def hold(self, owner: str, ports: Iterable[int]) -> None:
        """Record that `owner` holds `ports` (a task adopted after a restart keeps its ports)."""
        for port in ports:
            self._owners[port] = owner

    def release(self, owner: str) -> None:
        for port in [port for port, holder in self._owners.items() if holder == owner]:
            del self._owners[port]

    def held_by(self, owner: str) -> tuple[int, ...]:
        return tuple(sorted(port for port, holder in self._owners.items() if holder == owner))

    def _candidates(self) -> Iterator[int]:
        size = self.last - self.first + 1
        start = self._next - self.first
        for step in range(size):
            yield self.first + (start + step) % size

    def _following(self, port: int) -> int:
        return self.first if port >= self.last else port + 1
