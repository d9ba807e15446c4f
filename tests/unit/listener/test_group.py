"""Group commit: what arrives together is committed together, each caller gets its own
result, and a failed commit reaches every caller of the group."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from monitor.listener.group import GroupCommit
from tests.conftest import run_async


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.groups: list[list[int]] = []
        self.fail = fail

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.groups.append(list(items))
        if self.fail:
            raise RuntimeError("commit failed")
        return [i * 10 for i in items]


def test_items_submitted_together_share_a_commit_up_to_the_group_size() -> None:
    commit = Recorder()

    async def run() -> list[int]:
        # A long window: only a full group (or the end of the window) sends it.
        group: GroupCommit[int, int] = GroupCommit(commit, window_s=0.0, max_items=4)
        return await asyncio.gather(*(group.submit(i) for i in range(10)))

    assert run_async(run()) == [i * 10 for i in range(10)]
    assert commit.groups == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_a_full_group_does_not_wait_for_its_window() -> None:
    commit = Recorder()

    async def run() -> list[int]:
        group: GroupCommit[int, int] = GroupCommit(commit, window_s=3600, max_items=3)
        return await asyncio.gather(*(group.submit(i) for i in range(3)))

    assert run_async(run()) == [0, 10, 20]
    assert commit.groups == [[0, 1, 2]]


def test_a_failed_commit_fails_every_item_of_its_group() -> None:
    async def run() -> list[int | BaseException]:
        group: GroupCommit[int, int] = GroupCommit(Recorder(fail=True), window_s=0.0)
        return await asyncio.gather(*(group.submit(i) for i in range(3)),
                                    return_exceptions=True)

    outcomes = run_async(run())
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    with pytest.raises(RuntimeError):
        raise outcomes[0]  # type: ignore[misc]


def test_a_group_holding_every_open_connection_does_not_wait_for_its_window() -> None:
    """Senders keep one message in flight: once each open connection has one waiting, no one
    else can join before the ACKs go out, so waiting for the window only adds latency."""
    commit = Recorder()

    async def run() -> list[int]:
        group: GroupCommit[int, int] = GroupCommit(commit, window_s=3600, max_items=64,
                                                   company=lambda: 3)
        return await asyncio.wait_for(asyncio.gather(*(group.submit(i) for i in range(3))), 5)

    assert run_async(run()) == [0, 10, 20]
    assert commit.groups == [[0, 1, 2]]
