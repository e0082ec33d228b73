"""Activities run again after a crash must not make anything twice: the same create gives the
same VM, the same ensure the same resource and the same SSH key."""

from __future__ import annotations

from temporalio.testing import ActivityEnvironment

from activities.resources import ResourceActivities
from activities.vms import VmActivities
from models.operations import EnsureSecurityGroupInput, EnsureSshKeyInput, EnsureVNetInput
from models.records import ResourceKind
from tests.activity_inputs import create_vm_input
from tests.workflows.conftest import Harness

PLACE = {"namespace": "ns", "name": "net", "provider": "aws", "region": "r1"}


async def test_ensure_twice_makes_one_of_each_and_keeps_the_key(harness: Harness) -> None:
    resources, env = ResourceActivities(harness.deps), ActivityEnvironment()
    for _ in range(2):
        vnet = await env.run(resources.ensure_vnet, EnsureVNetInput(**PLACE))
        group = await env.run(
            resources.ensure_security_group, EnsureSecurityGroupInput(**PLACE, vnet="net")
        )
        key = await env.run(resources.ensure_ssh_key, EnsureSshKeyInput(**PLACE))
    cloud = harness.cloud
    assert (len(cloud.vnets), len(cloud.groups), len(cloud.keys)) == (1, 1, 1)
    assert vnet.csp_id and group.csp_id and key.secret_ref
    assert len(harness.store.list_resources("ns")) == 3
    private = harness.store.get_secret(key.secret_ref)
    assert "PRIVATE KEY" in private and "PRIVATE" not in key.model_dump_json()
    again = await env.run(resources.ensure_ssh_key, EnsureSshKeyInput(**PLACE))
    assert again.details["public_key"] == key.details["public_key"]
    assert harness.store.get_resource("ns", ResourceKind.SSH_KEY, "net") is not None


async def test_create_vm_twice_gives_the_same_vm(harness: Harness) -> None:
    job = create_vm_input()
    vms, env = VmActivities(harness.deps), ActivityEnvironment()
    first = await env.run(vms.create_vm, job)
    second = await env.run(vms.create_vm, job)
    assert first.csp_id == second.csp_id and len(harness.cloud.vms) == 1
