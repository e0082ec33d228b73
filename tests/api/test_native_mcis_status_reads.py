"""Status reads of one MCIS coalesce: many readers at once cost one query per round trip, and
each answer was read after its request arrived; an error reaches every reader of that round,
and a reader that leaves does not hold the others up."""

from __future__ import annotations

import asyncio

import pytest

from api.native.status_reads import StatusReads
from models.mcis import McisView
from starter.errors import CliError
from tests.starter.fakes import S, view


class SlowWorkflow:
    """A reader that takes until `release` is set; each read answers with its number."""

    def __init__(self) -> None:
        self.reads: list[tuple[str, str]] = []
        self.release = asyncio.Event()

    async def __call__(self, namespace: str, name: str) -> McisView | None:
        self.reads.append((namespace, name))
        await self.release.wait()
        self.release.clear()
        return view({S.RUNNING: len(self.reads)}, phase="active", name=name)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_readers_arriving_during_a_read_share_the_next_one() -> None:
    workflow = SlowWorkflow()
    reads = StatusReads(workflow)
    first = asyncio.create_task(reads.current("dev", "web"))
    await settle()
    later = [asyncio.create_task(reads.current("dev", "web")) for _ in range(200)]
    await settle()
    assert len(workflow.reads) == 1  # the 200 wait for the read in flight to end
    workflow.release.set()
    assert (await first).total == 1
    await settle()
    workflow.release.set()
    assert {(await task).total for task in later} == {2}  # one read, begun after they came
    assert workflow.reads == [("dev", "web")] * 2


async def test_each_mcis_is_read_on_its_own() -> None:
    workflow = SlowWorkflow()
    reads = StatusReads(workflow)
    web, db = (asyncio.create_task(reads.current("dev", n)) for n in ("web", "db"))
    await settle()
    assert sorted(workflow.reads) == [("dev", "db"), ("dev", "web")]
    for _ in range(2):
        workflow.release.set()
        await settle()
    assert ((await web).name, (await db).name) == ("web", "db")


async def test_an_error_reaches_every_reader_of_its_round() -> None:
    async def gone(_namespace: str, name: str) -> McisView | None:
        await asyncio.sleep(0.01)
        raise CliError(f"MCIS {name!r} not found in namespace 'dev'")

    reads = StatusReads(gone)
    results = await asyncio.gather(
        *(reads.current("dev", "web") for _ in range(3)), return_exceptions=True
    )
    assert [str(r) for r in results] == ["MCIS 'web' not found in namespace 'dev'"] * 3


async def test_no_worker_answering_is_a_clear_error() -> None:
    async def unanswered(_namespace: str, _name: str) -> McisView | None:
        return None

    reads = StatusReads(unanswered)
    assert await reads.read("dev", "web") is None
    with pytest.raises(CliError, match="no worker answered for MCIS 'web': is the stack up"):
        await reads.current("dev", "web")


async def test_a_reader_that_leaves_does_not_hold_up_the_others() -> None:
    workflow = SlowWorkflow()
    reads = StatusReads(workflow)
    leaving = asyncio.create_task(reads.current("dev", "web"))
    staying = asyncio.create_task(reads.current("dev", "web"))
    await settle()
    leaving.cancel()
    workflow.release.set()
    assert (await staying).total == 1
    assert leaving.cancelled()
