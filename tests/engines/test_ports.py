"""Host ports: never one port for two live tasks, and Marathon's port variables."""

from __future__ import annotations

import socket

import pytest

from conveyor.domain.errors import Unavailable
from conveyor.engines.ports import PortPool, is_bindable
from tests.engines.scenarios import free_port_range


def test_ports_are_handed_out_round_the_range_and_never_twice() -> None:
    first, last = free_port_range(4)
    pool = PortPool(first, last)
    assert pool.allocate("a", 2) == (first, first + 1)
    assert pool.allocate("b", 1) == (first + 2,)
    pool.release("a")
    assert pool.allocate("c", 2) == (first + 3, first)  # round the range, then the freed ones
    with pytest.raises(Unavailable):
        pool.allocate("d", 2)
    assert pool.held_by("b") == (first + 2,)


def test_a_port_something_listens_on_is_skipped() -> None:
    first, last = free_port_range(3)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", first))
        listener.listen()
        assert not is_bindable(first)
        assert PortPool(first, last).allocate("a", 1) == (first + 1,)


def test_claimed_ports_must_all_be_free() -> None:
    first, last = free_port_range(5)
    pool = PortPool(first, last)
    assert pool.claim("a", [first + 3, first]) == (first + 3, first)
    with pytest.raises(Unavailable, match="held by task a"):
        pool.claim("b", [first + 1, first])
    assert pool.held_by("b") == ()
    with pytest.raises(Unavailable, match="repeat"):
        pool.claim("c", [first + 2, first + 2])
    pool.hold("adopted", [first + 4])
    assert pool.allocate("d", 2) == (first + 1, first + 2)


def test_a_bad_range_is_refused() -> None:
    with pytest.raises(ValueError):
        PortPool(32000, 31000)
