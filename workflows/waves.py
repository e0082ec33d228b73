"""Running one step over many items in a workflow, a bounded number at a time, in waves: the next
wave starts once a whole wave has returned, never as a reaction to one completion among several,
so a worker replaying the history after a crash (which may see completions grouped otherwise)
sends the same commands in the same order. Not a semaphore, for that reason."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def in_waves(items: Sequence[T], size: int, step: Callable[[T], Awaitable[R]]) -> list[R]:
    """`step` of every item, `size` at once; the results in the items' order."""
    done: list[R] = []
    for at in range(0, len(items), size):
        done += await asyncio.gather(*map(step, items[at : at + size]))
    return done
