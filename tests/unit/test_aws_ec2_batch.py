"""The boto3 AWS driver's batch calls against moto's in-process EC2: one RunInstances
(MinCount = MaxCount = n) per shape, each VM tagged with CreateTags right after, one instance per
VM whatever was made before (singly, by an earlier batch, by a batch cut short before or while
tagging), and Stop/Start/Reboot/TerminateInstances for many ids with per-id errors where EC2
names the ids.

moto ignores ClientToken (a repeated RunInstances makes new instances), so everything here
proves the driver's own lookups; moto accepts any instance type unless its instance type
validation is on, and does not refuse a stop of a terminated instance (EC2 does, with
IncorrectInstanceState: simulated below)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import settings as moto_settings

from drivers import batch
from drivers.aws import (
    TAG_BATCH_TOKEN,
    TAG_CLIENT_TOKEN,
    AwsDriver,
    batch_token,
    ids_named,
    vm_shape,
)
from drivers.base import BatchVmSource
from drivers.errors import (
    CloudError,
    CloudNotFoundError,
    ConflictError,
    InvalidRequestError,
    ThrottledError,
    TransientCloudError,
)
from models.cloud import DEFAULT_RULES, CloudVm, SubnetSpec, VmAction, VmCreateRequest
from models.naming import TAG_UID, cloud_vm_name, vm_client_token, vm_tags
from models.status import TargetAction, VmStatus
from tests.unit.test_aws_ec2 import REGION, canonical
from tests.unit.test_aws_ec2 import driver as driver  # the fixture: the driver on moto
from tests.unit.test_aws_ec2 import moto as moto  # the fixture: moto's EC2 in process

UID = "u-batch"
UNKNOWN = "i-0123456789abcdef0"


def ec2() -> Any:
    return boto3.client("ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")


def at_moto(**tags: str) -> list[dict[str, Any]]:
    filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in tags.items()]
    found: list[dict[str, Any]] = []
    for page in ec2().get_paginator("describe_instances").paginate(Filters=filters):
        for reservation in page["Reservations"]:
            found += reservation["Instances"]
    return found


def tags_of(instance: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


async def requests_for(
    driver: AwsDriver, count: int, specs: tuple[str, ...] = ("t3.micro", "t3.small")
) -> list[VmCreateRequest]:
    """`count` VMs of one MCIS (group g1), their instance types taking turns among `specs`."""
    vnet = await driver.ensure_vnet(
        REGION, "batch-net", "10.0.0.0/16", [SubnetSpec(name="default", cidr="10.0.0.0/20")], {}
    )
    group = await driver.ensure_security_group(REGION, "batch-sg", vnet.csp_id, DEFAULT_RULES, {})
    image = next(i for i in await driver.images(REGION) if i.os == "amazon-linux-2023").name
    made = []
    for n in range(1, count + 1):
        vm = f"g1-{n}"
        made.append(
            VmCreateRequest(
                name=cloud_vm_name("dev", "web", vm),
                spec=specs[(n - 1) % len(specs)],
                image=image,
                vnet_csp_id=vnet.csp_id,
                subnet_csp_id=vnet.subnets["default"],
                security_group_csp_ids=[group.csp_id],
                key_name="",
                client_token=vm_client_token("dev", "web", UID, vm, serial=n),
                tags=vm_tags("dev", "web", UID, "g1", vm, serial=n),
            )
        )
    return made


class Calls:
    """Records (and can fail) the calls the driver's boto3 client makes to one EC2 action."""

    def __init__(self, client: Any, method: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.kwargs: list[dict[str, Any]] = []
        self.failures: dict[int, ClientError] = {}
        self.succeeded = 0
        real: Callable[..., Any] = getattr(client, method)

        def call(**kwargs: Any) -> Any:
            number = len(self.kwargs)
            self.kwargs.append(kwargs)
            failure = self.failures.get(number)
            if failure is not None:
                raise failure
            answer = real(**kwargs)
            self.succeeded += 1
            return answer

        monkeypatch.setattr(client, method, call)

    def fail(self, *numbers: int, code: str = "InternalError", status: int = 500) -> None:
        """Fail the calls with these numbers from now (0: the next call), and no other."""
        start = len(self.kwargs)
        self.failures = {start + n: client_error(code, status) for n in numbers}


def client_error(code: str, status: int = 400, message: str = "") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message or f"{code} happened"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "Call",
    )


@pytest.fixture
def spied(driver: AwsDriver, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Calls]]:
    client = driver._client(REGION)
    methods = ("run_instances", "create_tags", "stop_instances", "terminate_instances")
    yield {m: Calls(client, m, monkeypatch) for m in methods}


def assert_one_instance_per_vm(
    requests: list[VmCreateRequest], answers: list[CloudVm | CloudError]
) -> list[CloudVm]:
    """Every request answered with its own VM, carrying every tag create_vm would set, and
    moto holds exactly those instances for the MCIS."""
    vms = [a for a in answers if isinstance(a, CloudVm)]
    assert len(vms) == len(requests), answers
    for request, vm in zip(requests, vms, strict=True):
        assert (vm.name, vm.spec, vm.client_token) == (
            request.name,
            request.spec,
            request.client_token,
        )
        expected = {"Name": request.name, **request.tags, TAG_CLIENT_TOKEN: request.client_token}
        assert expected.items() <= vm.tags.items()
    held = at_moto(**{TAG_UID: UID})
    assert sorted(i["InstanceId"] for i in held) == sorted(vm.csp_id for vm in vms)
    by_id = {i["InstanceId"]: tags_of(i) for i in held}
    for request, vm in zip(requests, vms, strict=True):
        assert by_id[vm.csp_id]["Name"] == request.name
        assert by_id[vm.csp_id][TAG_CLIENT_TOKEN] == request.client_token
    return vms


async def test_the_aws_driver_is_a_batch_vm_source(driver: AwsDriver) -> None:
    assert isinstance(driver, BatchVmSource)
    assert await driver.create_vms(REGION, []) == []
    assert await driver.act_on_vms(REGION, VmAction.SUSPEND, []) == []


async def test_a_batch_over_two_types_is_two_run_instances_of_n_and_each_vm_is_tagged(
    driver: AwsDriver, spied: dict[str, Calls]
) -> None:
    requests = await requests_for(driver, 7)
    answers = await batch.create_vms(driver, REGION, requests)
    vms = assert_one_instance_per_vm(requests, answers)

    runs = spied["run_instances"].kwargs
    assert sorted((r["InstanceType"], r["MinCount"], r["MaxCount"]) for r in runs) == [
        ("t3.micro", 4, 4),
        ("t3.small", 3, 3),
    ]
    for run in runs:  # the batch token names the batch's VMs; the shared tags come at launch
        group = [r for r in requests if r.spec == run["InstanceType"]]
        token = batch_token(vm_shape(group[0]), [r.client_token for r in group])
        assert run["ClientToken"] == token and len(token) <= 64
        launched = {t["Key"]: t["Value"] for t in run["TagSpecifications"][0]["Tags"]}
        assert launched == {
            "mcis-namespace": "dev",
            "mcis-name": "web",
            "mcis-uid": UID,
            "mcis-group": "g1",
            TAG_BATCH_TOKEN: token,
        }
    assert len(spied["create_tags"].kwargs) == 7

    # The i-th instance of a reservation (AmiLaunchIndex) is the VM of the i-th sorted token.
    held = {i["InstanceId"]: i for i in at_moto(**{TAG_UID: UID})}
    for spec in ("t3.micro", "t3.small"):
        group = sorted((r for r in requests if r.spec == spec), key=lambda r: r.client_token)
        by_token = {vm.client_token: vm.csp_id for vm in vms}
        indexes = [held[by_token[r.client_token]]["AmiLaunchIndex"] for r in group]
        assert indexes == list(range(len(group)))

    # Found exactly like VMs made one by one: by id, by tags, by create_vm of their token.
    for vm in vms:
        assert await driver.get_vm(REGION, vm.csp_id) == vm.model_copy(
            update={"native_status": "running"}
        )
    listed = await driver.list_vms(REGION, {TAG_UID: UID, "mcis-vm": "g1-3"})
    assert [v.csp_id for v in listed] == [vms[2].csp_id]
    assert len(await driver.list_vms(REGION, {TAG_UID: UID})) == 7
    assert (await driver.create_vm(REGION, requests[4])).csp_id == vms[4].csp_id

    again = await driver.create_vms(REGION, requests)
    assert [a.csp_id for a in again if isinstance(a, CloudVm)] == [vm.csp_id for vm in vms]
    assert len(spied["run_instances"].kwargs) == 2 and len(spied["create_tags"].kwargs) == 7
    assert len(at_moto()) == 7


@pytest.mark.parametrize(
    "cut_at",
    [[0], [3], [2, 1]],
    ids=["before-any-tag", "after-3-tags", "twice"],
)
async def test_a_batch_cut_short_while_tagging_ends_with_one_tagged_instance_per_vm(
    driver: AwsDriver, spied: dict[str, Calls], cut_at: list[int]
) -> None:
    """A crash between RunInstances and the last CreateTags: the call repeated finds the
    batch's instances (by the batch tag of its tagged VMs or by its token) and tags them."""
    requests = await requests_for(driver, 7)
    tags = spied["create_tags"]
    for cut in cut_at:
        tags.fail(*range(cut, 7))  # the tags of the VMs after the first `cut` are not set
        with pytest.raises(TransientCloudError, match="InternalError"):
            await driver.create_vms(REGION, requests)
        assert len(at_moto()) == 7  # the instances are made; some VMs' tags are not set
    tags.fail()  # the next call ends well
    untagged = [i for i in at_moto() if TAG_CLIENT_TOKEN not in tags_of(i)]
    assert untagged
    # Before the call is repeated, the instances carry the tags the batch shares (a listing
    # of the MCIS shows them, named by their ids) and no VM's token.
    listed = {v.csp_id: v for v in await driver.list_vms(REGION, {TAG_UID: UID})}
    assert len(listed) == 7
    for instance in untagged:
        shown = listed[instance["InstanceId"]]
        assert (shown.name, shown.client_token) == (instance["InstanceId"], "")

    answers = await driver.create_vms(REGION, requests)
    vms = assert_one_instance_per_vm(requests, answers)
    assert len(spied["run_instances"].kwargs) == 2
    assert {u["InstanceId"] for u in untagged} <= {vm.csp_id for vm in vms}
    # Every CreateTags that failed was sent again, none that succeeded.
    assert tags.succeeded == 7
    assert [a.csp_id for a in await driver.create_vms(REGION, requests) if isinstance(a, CloudVm)]
    assert len(at_moto()) == 7 and tags.succeeded == 7


async def test_a_cut_short_batch_that_another_call_cannot_match_is_not_made_again(
    driver: AwsDriver, spied: dict[str, Calls]
) -> None:
    """A call with other VMs than the one whose batch was cut short cannot tell which of the
    batch's untagged instances is which VM: it refuses those VMs instead of making them twice;
    the original call still recovers them."""
    requests = await requests_for(driver, 8, specs=("t3.micro",))
    first, extra = requests[:7], requests[7]
    spied["create_tags"].fail(*range(3, 7))
    with pytest.raises(TransientCloudError):
        await driver.create_vms(REGION, first)
    tagged = {tags_of(i).get(TAG_CLIENT_TOKEN) for i in at_moto()} - {None}
    assert len(tagged) == 3
    tagged_one = next(r for r in first if r.client_token in tagged)
    untagged = [r for r in first if r.client_token not in tagged]

    other = [tagged_one, untagged[0], extra]
    answers = await driver.create_vms(REGION, other)
    assert isinstance(answers[0], CloudVm) and answers[0].client_token == tagged_one.client_token
    for refused in answers[1:]:
        assert isinstance(refused, ConflictError) and refused.code == "BatchMismatch"
    assert len(at_moto()) == 7 and len(spied["run_instances"].kwargs) == 1

    assert_one_instance_per_vm(first, await driver.create_vms(REGION, first))
    made = await driver.create_vms(REGION, requests)
    assert_one_instance_per_vm(requests, made)
    assert [r["MinCount"] for r in spied["run_instances"].kwargs] == [7, 1]


async def test_a_batch_mixing_vms_made_singly_and_new_ones_makes_no_duplicate(
    driver: AwsDriver, spied: dict[str, Calls]
) -> None:
    requests = await requests_for(driver, 7)
    singly = {i: await driver.create_vm(REGION, requests[i]) for i in (0, 3, 4)}
    answers = await driver.create_vms(REGION, requests)
    vms = assert_one_instance_per_vm(requests, answers)
    assert {i: vms[i].csp_id for i in singly} == {i: vm.csp_id for i, vm in singly.items()}
    assert sorted((r["InstanceType"], r["MinCount"]) for r in spied["run_instances"].kwargs) == [
        ("t3.micro", 1),  # the three made singly
        ("t3.micro", 1),
        ("t3.micro", 2),  # g1-3, g1-7
        ("t3.small", 1),
        ("t3.small", 2),  # g1-2, g1-6
    ]
    # A request twice in a call is one VM.
    twice = await driver.create_vms(REGION, [requests[1], requests[1]])
    assert [v.csp_id for v in twice if isinstance(v, CloudVm)] == [vms[1].csp_id] * 2
    assert len(at_moto()) == 7


async def test_an_unknown_instance_type_fails_the_whole_call(
    driver: AwsDriver, spied: dict[str, Calls], monkeypatch: pytest.MonkeyPatch
) -> None:
    """EC2 refuses RunInstances of an unknown type whole (InvalidParameterValue: an
    InvalidRequestError); moto, with its instance type validation on, answers
    InvalidInstanceType.NotFound (a CloudNotFoundError). Either way no VM of that RunInstances is
    made, and the call raises; the VMs of the call's other shapes are made and tagged first."""
    monkeypatch.setattr(moto_settings, "EC2_ENABLE_INSTANCE_TYPE_VALIDATION", True)
    requests = await requests_for(driver, 5, specs=("t3.micro", "t9.nonsense"))
    with pytest.raises(CloudNotFoundError, match=r"InvalidInstanceType\.NotFound"):
        await driver.create_vms(REGION, requests)
    held = at_moto()
    assert sorted(tags_of(i)["Name"] for i in held) == sorted(
        r.name for r in requests if r.spec == "t3.micro"
    )
    assert all(TAG_CLIENT_TOKEN in tags_of(i) for i in held)
    with pytest.raises(CloudNotFoundError):
        await driver.create_vms(REGION, requests)
    assert len(at_moto()) == 3
    valid = [r for r in requests if r.spec == "t3.micro"]
    assert_one_instance_per_vm(valid, await driver.create_vms(REGION, valid))

    larger = [
        r.model_copy(update={"spec": "t3.large", "client_token": f"{r.client_token}-l"})
        for r in valid
    ]
    spied["run_instances"].fail(0, code="InvalidParameterValue", status=400)
    with pytest.raises(InvalidRequestError):
        await driver.create_vms(REGION, larger)
    spied["run_instances"].fail(0, code="RequestLimitExceeded", status=503)
    with pytest.raises(ThrottledError):
        await driver.create_vms(REGION, larger)
    assert len(at_moto()) == 3


async def test_actions_on_many_ids_are_one_call_each_with_per_id_errors(
    driver: AwsDriver, spied: dict[str, Calls], monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = await requests_for(driver, 7)
    vms = [v for v in await driver.create_vms(REGION, requests) if isinstance(v, CloudVm)]
    ids = [vm.csp_id for vm in vms]

    stopped = await driver.act_on_vms(REGION, VmAction.SUSPEND, ids)
    assert [v.csp_id for v in stopped if isinstance(v, CloudVm)] == ids
    assert {v.native_status for v in stopped if isinstance(v, CloudVm)} == {"stopped"}
    assert [v.tags["Name"] for v in stopped if isinstance(v, CloudVm)] == [r.name for r in requests]
    assert len(spied["stop_instances"].kwargs) == 1

    # An unknown id: EC2 refuses the call whole, naming it; it is sent again without it.
    answers = await driver.act_on_vms(REGION, VmAction.SUSPEND, [ids[0], UNKNOWN, ids[1]])
    assert isinstance(answers[1], CloudNotFoundError) and UNKNOWN in answers[1].message
    assert [a.native_status for a in (answers[0], answers[2]) if isinstance(a, CloudVm)] == [
        "stopped",
        "stopped",
    ]
    assert [c["InstanceIds"] for c in spied["stop_instances"].kwargs[1:]] == [
        [ids[0], UNKNOWN, ids[1]],
        [ids[0], ids[1]],
    ]

    resumed = await driver.act_on_vms(REGION, VmAction.RESUME, ids)
    assert all(isinstance(v, CloudVm) and canonical(v, TargetAction.RESUME) in _up for v in resumed)
    rebooted = await driver.act_on_vms(REGION, VmAction.REBOOT, ids)
    assert {v.native_status for v in rebooted if isinstance(v, CloudVm)} == {"running"}

    # A state EC2 refuses for one VM (moto does not: simulated): that VM alone is refused.
    refusal = client_error(
        "IncorrectInstanceState",
        message=f"This instance '{ids[2]}' is not in a state from which it can be stopped.",
    )
    spied["stop_instances"].failures[len(spied["stop_instances"].kwargs)] = refusal
    answers = await driver.act_on_vms(REGION, VmAction.SUSPEND, ids[:4])
    assert isinstance(answers[2], InvalidRequestError)
    assert answers[2].code == "IncorrectInstanceState"
    assert [type(a) for a in answers] == [CloudVm, CloudVm, InvalidRequestError, CloudVm]
    # An error that names no id, or one a retry may cure, fails the call whole.
    spied["stop_instances"].fail(0, code="UnauthorizedOperation", status=403)
    with pytest.raises(CloudError, match="credentials rejected"):
        await driver.act_on_vms(REGION, VmAction.SUSPEND, ids)
    spied["stop_instances"].fail(0, code="RequestLimitExceeded", status=503)
    with pytest.raises(ThrottledError):
        await driver.act_on_vms(REGION, VmAction.SUSPEND, ids)

    # Terminate: an id EC2 does not know is gone (None), as terminate_vm + get_vm say.
    terminated = await driver.act_on_vms(REGION, VmAction.TERMINATE, [*ids, UNKNOWN, ids[0]])
    assert terminated[7] is None
    assert [v.csp_id for v in terminated if isinstance(v, CloudVm)] == [*ids, ids[0]]
    assert all(
        canonical(v, TargetAction.TERMINATE) in (VmStatus.TERMINATING, VmStatus.TERMINATED)
        for v in terminated
        if isinstance(v, CloudVm)
    )
    again = await driver.act_on_vms(REGION, VmAction.TERMINATE, ids)
    assert {v.native_status for v in again if isinstance(v, CloudVm)} == {"terminated"}
    fallback = [await driver.get_vm(REGION, i) for i in ids]
    assert [v.native_status for v in again if isinstance(v, CloudVm)] == [
        v.native_status for v in fallback if v is not None
    ]
    assert len(at_moto()) == 7


_up = (VmStatus.RESUMING, VmStatus.RUNNING)


def test_ids_named_finds_whole_ids_only() -> None:
    message = "The instance IDs 'i-0123456789abcdef0, i-1234' do not exist"
    assert ids_named(message, ["i-1234", "i-123", "i-0123456789abcdef0", "i-5"]) == [
        "i-1234",
        "i-0123456789abcdef0",
    ]
    assert ids_named('Invalid id: "junk" (expecting "i-...")', ["junk", "i-1"]) == ["junk"]
