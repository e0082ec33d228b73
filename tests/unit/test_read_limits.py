"""Every status read an activity makes of a cloud (listing, get) waits its turn at that cloud's
read rate (ActivityDeps.read_limiter), as the README promises: the reads a cloud served equal the
turns its limiter gave."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.deps import ActivityDeps
from activities.vms import VmActivities
from models.cloud import CloudVm
from models.operations import ObserveVmsInput, ReconcileInput, VmActionInput
from models.records import VmRecord
from models.status import TargetAction, VmStatus
from store.repository import Store
from tests.activity_inputs import (
    MCIS,
    NAMESPACE,
    REGION,
    UID,
    CountingLimiter,
    create_vm_input,
)
from tests.fake_cloud import FakeCloud, FakeDriver


class CountingDriver(FakeDriver):
    """Counts the reads it serves; its listings leave out the VMs in `hidden`."""

    def __init__(self, cloud: FakeCloud) -> None:
        super().__init__("aws", cloud)
        self.reads = 0
        self.hidden: set[str] = set()

    async def get_vm(self, region: str, csp_id: str) -> CloudVm | None:
        self.reads += 1
        return await super().get_vm(region, csp_id)

    async def list_vms(self, region: str, tags: dict[str, str] | None = None) -> list[CloudVm]:
        self.reads += 1
        listed = await super().list_vms(region, tags)
        return [vm for vm in listed if vm.csp_id not in self.hidden]


@pytest.fixture
def driver() -> CountingDriver:
    return CountingDriver(FakeCloud(boot_polls=3))


@pytest.fixture
def limiter() -> CountingLimiter:
    return CountingLimiter()


@pytest.fixture
def vms(tmp_path: Path, driver: CountingDriver, limiter: CountingLimiter) -> VmActivities:
    store = Store(f"sqlite:///{tmp_path / 'mcis.db'}", tmp_path)
    deps = ActivityDeps(drivers={"aws": driver}, store=store, read_limiter=limiter)
    return VmActivities(deps)


@pytest.fixture
async def vm(vms: VmActivities) -> VmRecord:
    return await ActivityEnvironment().run(vms.create_vm, create_vm_input())


def assert_every_read_waited(driver: CountingDriver, limiter: CountingLimiter) -> None:
    assert driver.reads > 0 and limiter.turns == Counter({"aws": driver.reads})


async def test_observing_polls_at_the_read_rate(
    vms: VmActivities, vm: VmRecord, driver: CountingDriver, limiter: CountingLimiter
) -> None:
    job = ObserveVmsInput(
        namespace=NAMESPACE,
        mcis=MCIS,
        uid=UID,
        provider="aws",
        region=REGION,
        vms=[vm],
        action=TargetAction.CREATE,
        poll_interval_s=0.001,
        max_wait_s=5.0,
    )
    [seen] = await ActivityEnvironment().run(vms.observe_vms, job)
    assert seen.status is VmStatus.RUNNING
    assert_every_read_waited(driver, limiter)


async def test_reconciling_lists_and_reads_at_the_read_rate(
    vms: VmActivities, vm: VmRecord, driver: CountingDriver, limiter: CountingLimiter
) -> None:
    assert vm.csp_id is not None
    driver.hidden.add(vm.csp_id)  # read directly too
    job = ReconcileInput(
        namespace=NAMESPACE, mcis=MCIS, uid=UID, regions=[("aws", REGION), ("aws", "r2")], vms=[vm]
    )
    result = await ActivityEnvironment().run(vms.reconcile_vms, job)
    assert [v.name for v in result.observed] == [vm.name]
    assert_every_read_waited(driver, limiter)


async def test_terminating_reads_the_vm_back_at_the_read_rate(
    vms: VmActivities, vm: VmRecord, driver: CountingDriver, limiter: CountingLimiter
) -> None:
    job = VmActionInput(namespace=NAMESPACE, mcis=MCIS, vm=vm, action=TargetAction.TERMINATE)
    done = await ActivityEnvironment().run(vms.vm_action, job)
    assert done.status is VmStatus.TERMINATED
    assert_every_read_waited(driver, limiter)
