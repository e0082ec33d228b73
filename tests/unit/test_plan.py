"""Request validation and VM planning: what a request means before anything is created."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.mcis import GroupRequest, McisRequest
from models.plan import call_waves, plan_vms, replacement
from models.records import VmRecord
from models.status import VmStatus

SPEC, IMAGE = "aws+us-east-1+t3.small", "aws+us-east-1+ubuntu"


def group(**fields: object) -> dict[str, object]:
    return {"name": "web", "spec": SPEC, "image": IMAGE, "count": 2, **fields}


def test_dynamic_groups_use_the_regions_shared_resources() -> None:
    request = McisRequest.model_validate(
        {"name": "shop", "groups": [group(), group(name="db", count=1)]}
    )
    vms = plan_vms("dev", request, "uid-1")
    assert [vm.name for vm in vms] == ["web-1", "web-2", "db-1"]
    assert {vm.vnet for vm in vms} == {"shared-aws-us-east-1"}
    assert all(vm.status is VmStatus.CREATING and vm.provider == "aws" for vm in vms)
    assert len({vm.client_token for vm in vms}) == 3


def test_static_groups_name_their_resources() -> None:
    static = group(vnet="net1", security_groups=["sg1"], ssh_key="key1")
    vm = plan_vms("dev", McisRequest.model_validate({"name": "s", "groups": [static]}), "u")[0]
    assert (vm.vnet, vm.security_groups, vm.ssh_key) == ("net1", ["sg1"], "key1")


def test_replacement_keeps_the_name_and_gets_a_new_token() -> None:
    request = McisRequest.model_validate({"name": "shop", "groups": [group(count=1)]})
    original = plan_vms("dev", request, "u")[0].model_copy(
        update={"status": VmStatus.FAILED, "csp_id": "i-1", "error": "boom", "listed": True}
    )
    fresh = replacement(original, "u")
    assert (fresh.name, fresh.attempt, fresh.csp_id, fresh.error) == ("web-1", 1, None, None)
    assert fresh.status is VmStatus.CREATING and fresh.client_token != original.client_token
    assert not fresh.listed  # a new VM: listings may lag its create again


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (group(count=0), "greater than or equal to 1"),
        (group(count=100000), "less than or equal to 10000"),
        (group(spec="aws+us-east-1"), "not a catalog id"),
        (group(image="aws+eu-west-1+ubuntu"), "different clouds or regions"),
        (group(vnet="net1"), "names vnet, security_groups and ssh_key together"),
        (group(name="Web"), "group name 'Web' is invalid"),
        (group(unknown=1), "Extra inputs are not permitted"),
    ],
)
def test_bad_groups_are_refused_with_a_reason(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        GroupRequest.model_validate(fields)


def test_group_names_must_be_unique() -> None:
    with pytest.raises(ValidationError, match="repeated: web"):
        McisRequest.model_validate({"name": "shop", "groups": [group(), group()]})


def vm_in(name: str, provider: str, region: str) -> VmRecord:
    return VmRecord(
        namespace="ns",
        mcis="m",
        name=name,
        group="g",
        provider=provider,
        region=region,
        spec=f"{provider}+{region}+s",
        image=f"{provider}+{region}+i",
        client_token=name,
    )


def test_call_waves_bound_each_region_and_each_cloud_and_keep_the_order() -> None:
    vms = [vm_in(f"a{i}", "aws", "r1") for i in range(5)]
    vms += [vm_in(f"b{i}", "aws", "r2") for i in range(3)]
    vms += [vm_in(f"c{i}", "gcp", "r1") for i in range(2)]
    waves = call_waves(vms, per_region=2, per_provider=3)
    assert waves == [
        ["a0", "a1", "b0", "c0", "c1"],
        ["a2", "a3", "b1"],
        ["a4", "b2"],
    ]
    assert sorted(n for wave in waves for n in wave) == sorted(vm.name for vm in vms)
    assert call_waves([], 2, 3) == []
