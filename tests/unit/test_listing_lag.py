"""A VM whose region's listing lags its create (AWS's DescribeInstances after RunInstances) is
not read as gone by `observe_vms` or `reconcile_vms` while it boots: it keeps its status until
the listing shows it, and is gone only if a direct read says so or it is still missing once the
grace window passed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.deps import ActivityDeps
from activities.observation import LISTING_GRACE_S
from activities.vms import VmActivities
from models.cloud import CloudVm
from models.operations import ObserveVmsInput, ReconcileInput
from models.records import VmRecord
from models.status import TargetAction, VmStatus
from store.repository import Store
from tests.activity_inputs import MCIS, NAMESPACE, REGION, UID, create_vm_input
from tests.fake_cloud import FakeCloud, FakeDriver


class LaggingDriver(FakeDriver):
    """Leaves the VMs in `hidden` out of its listings (a direct read still finds them)."""

    def __init__(self, cloud: FakeCloud) -> None:
        super().__init__("aws", cloud)
        self.hidden: set[str] = set()

    async def list_vms(self, region: str, tags: dict[str, str] | None = None) -> list[CloudVm]:
        listed = await super().list_vms(region, tags)
        return [vm for vm in listed if vm.csp_id not in self.hidden]


@pytest.fixture
def driver() -> LaggingDriver:
    return LaggingDriver(FakeCloud())


@pytest.fixture
def vms(tmp_path: Path, driver: LaggingDriver) -> VmActivities:
    store = Store(f"sqlite:///{tmp_path / 'mcis.db'}", tmp_path)
    return VmActivities(ActivityDeps(drivers={"aws": driver}, store=store))


def observe(vm: VmRecord) -> ObserveVmsInput:
    return ObserveVmsInput(
        namespace=NAMESPACE,
        mcis=MCIS,
        uid=UID,
        provider="aws",
        region=REGION,
        vms=[vm],
        action=TargetAction.CREATE,
        poll_interval_s=0.01,
        max_wait_s=0.0,
    )


async def created(vms: VmActivities, driver: LaggingDriver) -> VmRecord:
    """A VM just created, that its region's listing does not show yet."""
    vm = await ActivityEnvironment().run(vms.create_vm, create_vm_input())
    assert vm.csp_id is not None and vm.created_at is not None
    driver.hidden.add(vm.csp_id)
    return vm


async def test_a_new_vm_missing_from_the_listing_keeps_creating_until_it_shows(
    vms: VmActivities, driver: LaggingDriver
) -> None:
    vm = await created(vms, driver)
    env = ActivityEnvironment()
    assert await env.run(vms.observe_vms, observe(vm)) == []  # no change: still Creating
    driver.hidden.clear()
    [seen] = await env.run(vms.observe_vms, observe(vm))
    assert seen.status is VmStatus.RUNNING


async def test_a_vm_still_missing_after_the_grace_window_is_gone(
    vms: VmActivities, driver: LaggingDriver
) -> None:
    vm = await created(vms, driver)
    assert vm.created_at is not None
    old = vm.model_copy(
        update={"created_at": vm.created_at - timedelta(seconds=LISTING_GRACE_S + 1)}
    )
    [seen] = await ActivityEnvironment().run(vms.observe_vms, observe(old))
    assert seen.status is VmStatus.TERMINATED


async def test_reconcile_reads_a_new_vm_the_listing_lags_instead_of_reporting_it_missing(
    vms: VmActivities, driver: LaggingDriver
) -> None:
    vm = await created(vms, driver)
    job = ReconcileInput(
        namespace=NAMESPACE, mcis=MCIS, uid=UID, regions=[("aws", REGION)], vms=[vm]
    )
    result = await ActivityEnvironment().run(vms.reconcile_vms, job)
    assert (result.missing, result.adopted) == ([], [])
    assert [(v.name, v.status) for v in result.observed] == [(vm.name, VmStatus.RUNNING)]


async def test_a_young_vm_terminated_and_left_out_of_the_listing_is_read_directly(
    vms: VmActivities, driver: LaggingDriver
) -> None:
    """A deleted GCE or Azure VM leaves its region's listing at once: a VM terminated within the
    grace window of its create is read directly, gone at once rather than a minute later."""
    vm = await created(vms, driver)
    env = ActivityEnvironment()
    driver.hidden.clear()
    [running] = await env.run(vms.observe_vms, observe(vm))
    assert running.csp_id is not None
    await driver.terminate_vm(REGION, running.csp_id)
    terminating = running.model_copy(update={"status": VmStatus.TERMINATING})
    driver.hidden.add(running.csp_id)  # the listing no longer shows it
    watch = observe(terminating).model_copy(update={"action": TargetAction.TERMINATE})
    [gone] = await env.run(vms.observe_vms, watch)
    assert gone.status is VmStatus.TERMINATED
