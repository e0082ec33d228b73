"""An observation of VMs named by reference (release 0.3 batches) reads their records from the
store, and still reports a VM whose status the workflow has not heard of even when an earlier
attempt of the same activity already wrote it there (that attempt's answer was lost)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.deps import ActivityDeps
from activities.vms import VmActivities
from models.operations import ObserveVmsInput
from models.records import VmRecord
from models.status import TargetAction, VmStatus
from store.repository import Store
from tests.activity_inputs import MCIS, NAMESPACE, REGION, UID, create_vm_input
from tests.fake_cloud import FakeCloud, FakeDriver


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'mcis.db'}", tmp_path)


@pytest.fixture
def vms(store: Store) -> VmActivities:
    return VmActivities(ActivityDeps(drivers={"aws": FakeDriver("aws", FakeCloud())}, store=store))


def observe(vm: VmRecord, known: VmStatus) -> ObserveVmsInput:
    return ObserveVmsInput(
        namespace=NAMESPACE,
        mcis=MCIS,
        uid=UID,
        provider="aws",
        region=REGION,
        names=[vm.name],
        known={vm.name: known},
        action=TargetAction.CREATE,
        poll_interval_s=0.01,
        max_wait_s=0.0,
    )


async def running_in_the_store(vms: VmActivities, store: Store) -> VmRecord:
    """A VM created, that an earlier observation already wrote Running to the store."""
    vm = await ActivityEnvironment().run(vms.create_vm, create_vm_input())
    env = ActivityEnvironment()
    store.upsert_vms([vm])
    [seen] = await env.run(vms.observe_vms, observe(vm, VmStatus.CREATING))
    assert seen.status is VmStatus.RUNNING
    assert store.vms_named(NAMESPACE, MCIS, [vm.name])[0].status is VmStatus.RUNNING
    return seen


async def test_a_status_the_workflow_has_not_heard_of_is_reported_though_already_stored(
    vms: VmActivities, store: Store
) -> None:
    vm = await running_in_the_store(vms, store)
    # the first attempt's answer was lost: the workflow still knows the VM as Creating
    [again] = await ActivityEnvironment().run(vms.observe_vms, observe(vm, VmStatus.CREATING))
    assert again.status is VmStatus.RUNNING


async def test_a_status_the_workflow_knows_is_not_reported_again(
    vms: VmActivities, store: Store
) -> None:
    vm = await running_in_the_store(vms, store)
    assert await ActivityEnvironment().run(vms.observe_vms, observe(vm, VmStatus.RUNNING)) == []
