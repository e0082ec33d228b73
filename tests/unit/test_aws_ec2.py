"""The boto3 AWS driver against moto's in-process EC2 (no network): catalog with Libcloud's
prices, idempotent vNet/security group/key pair, create idempotent by tag although moto ignores
ClientToken, native states through the AWS table, and error mapping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

from activities.ssh_keys import generate_private_key, public_key_of
from drivers.aws import AwsDriver, cloud_error, ec2_clients, image_family
from drivers.errors import (
    CloudNotFoundError,
    CloudUnreachableError,
    ConflictError,
    InvalidRequestError,
    PermanentCloudError,
    QuotaExceededError,
    ThrottledError,
    TransientCloudError,
)
from drivers.status_map import to_canonical
from models.cloud import DEFAULT_RULES, CloudVm, SubnetSpec, VmCreateRequest
from models.status import TargetAction, VmStatus

REGION = "us-east-1"
SUBNETS = [SubnetSpec(name="default", cidr="10.0.0.0/20")]


@pytest.fixture
def moto() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
async def driver(moto: None) -> AsyncIterator[AwsDriver]:
    ec2 = AwsDriver("ec2", [REGION, "eu-west-1"], ec2_clients("AKIDEXAMPLE", "secret"))
    try:
        yield ec2
    finally:
        await ec2.aclose()


def boto() -> Any:
    return boto3.client("ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")


def canonical(vm: CloudVm, action: TargetAction = TargetAction.NONE) -> VmStatus:
    return to_canonical(vm.cloud, vm.native_status, action, vm.failure_reason)


async def network(driver: AwsDriver) -> tuple[str, str, str]:
    vnet = await driver.ensure_vnet(REGION, "dev-net", "10.0.0.0/16", SUBNETS, {})
    group = await driver.ensure_security_group(REGION, "dev-sg", vnet.csp_id, DEFAULT_RULES, {})
    key = public_key_of(generate_private_key())
    await driver.import_key_pair(REGION, "dev-key", key, {})
    return vnet.subnets["default"], group.csp_id, "dev-key"


async def request(driver: AwsDriver, name: str, token: str, **tags: str) -> VmCreateRequest:
    subnet, group, key = await network(driver)
    image = (await driver.images(REGION))[0].name
    return VmCreateRequest(
        name=name,
        spec="t3.micro",
        image=image,
        vnet_csp_id="",
        subnet_csp_id=subnet,
        security_group_csp_ids=[group],
        key_name=key,
        client_token=token,
        tags=tags,
    )


async def test_catalog_has_priced_types_and_curated_images(driver: AwsDriver) -> None:
    regions = await driver.regions()
    assert [(r.name, r.display_name) for r in regions] == [
        ("us-east-1", "US East (N. Virginia)"),
        ("eu-west-1", "Europe (Ireland)"),
    ]
    specs = await driver.specs(REGION)
    micro = next(s for s in specs if s.name == "t3.micro")
    assert (micro.id, micro.vcpus, micro.memory_gib) == ("ec2+us-east-1+t3.micro", 2, 1.0)
    assert micro.price_per_hour == pytest.approx(0.0104)
    assert len(specs) > 300 and all(s.price_per_hour > 0 for s in specs)
    assert {s.region for s in await driver.specs()} == {REGION, "eu-west-1"}

    images = await driver.images(REGION)
    assert images and all(i.name.startswith("ami-") for i in images)
    assert {"amazon-linux-2023", "amazon-linux-2"} <= {i.os for i in images}
    assert len({i.os for i in images}) == len(images)  # the newest of each family

    with pytest.raises(CloudNotFoundError, match="region 'ap-south-1' is not one of its regions"):
        await driver.specs("ap-south-1")


def test_image_families() -> None:
    assert image_family("ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-2024") == (
        "ubuntu-24.04"
    )
    assert image_family("al2023-ami-2023.6.20241010.0-kernel-6.1-x86_64") == "amazon-linux-2023"
    assert image_family("debian-12-amd64-20240717-1811") == "debian-12"
    assert image_family("windows-server-2022") is None


async def test_network_resources_are_idempotent(driver: AwsDriver) -> None:
    vnets = await asyncio.gather(
        *(driver.ensure_vnet(REGION, "dev-net", "10.0.0.0/16", SUBNETS, {"a": "b"}) for _ in "xyz")
    )
    assert len({v.csp_id for v in vnets}) == 1 and len({v.subnets["default"] for v in vnets}) == 1
    ec2 = boto()
    assert (
        len(ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["dev-net"]}])["Vpcs"]) == 1
    )
    vpc_id = vnets[0].csp_id
    gateways = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}]
    )["InternetGateways"]
    assert len(gateways) == 1
    with pytest.raises(ConflictError, match=r"exists with CIDR 10\.0\.0\.0/16"):
        await driver.ensure_vnet(REGION, "dev-net", "10.1.0.0/16", SUBNETS, {})

    first = await driver.ensure_security_group(REGION, "dev-sg", vpc_id, DEFAULT_RULES, {})
    again = await driver.ensure_security_group(REGION, "dev-sg", vpc_id, DEFAULT_RULES, {})
    assert first == again
    assert {(r.protocol, r.from_port) for r in first.rules} == {
        ("tcp", 22),
        ("tcp", 80),
        ("icmp", -1),
    }

    key = public_key_of(generate_private_key())
    pair = await driver.import_key_pair(REGION, "dev-key", key, {})
    assert await driver.import_key_pair(REGION, "dev-key", key + " me@host", {}) == pair
    with pytest.raises(ConflictError, match="exists with another public key"):
        await driver.import_key_pair(REGION, "dev-key", public_key_of(generate_private_key()), {})

    await driver.delete_key_pair(REGION, "dev-key")
    await driver.delete_key_pair(REGION, "dev-key")
    await driver.delete_security_group(REGION, first.csp_id)
    await driver.delete_security_group(REGION, first.csp_id)
    await driver.delete_vnet(REGION, vpc_id)
    await driver.delete_vnet(REGION, vpc_id)
    assert ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["dev-net"]}])["Vpcs"] == []


async def test_create_is_idempotent_by_tag_and_the_lifecycle_maps_native_states(
    driver: AwsDriver,
) -> None:
    req = await request(driver, "dev-web-g1-1", "mcis-token-1", **{"mcis-uid": "u1"})
    created = await driver.create_vm(REGION, req)
    assert await driver.create_vm(REGION, req) == (await driver.get_vm(REGION, created.csp_id))
    assert len(await driver.list_vms(REGION, {"mcis-uid": "u1"})) == 1
    assert (created.provider, created.cloud, created.client_token) == ("ec2", "aws", "mcis-token-1")
    assert created.tags["Name"] == "dev-web-g1-1" and created.public_ip

    other = await driver.create_vm(REGION, req.model_copy(update={"client_token": "mcis-token-2"}))
    assert other.csp_id != created.csp_id
    assert len(await driver.list_vms(REGION, {"mcis-uid": "u1"})) == 2
    assert await driver.list_vms(REGION, {"mcis-uid": "nobody"}) == []

    running = await driver.get_vm(REGION, created.csp_id)
    assert running is not None and canonical(running) is VmStatus.RUNNING
    stopped = await driver.suspend_vm(REGION, created.csp_id)
    assert stopped.native_status == "stopped" and canonical(stopped) is VmStatus.SUSPENDED
    assert stopped.failure_reason is None  # a user's stop is no failure
    resumed = await driver.resume_vm(REGION, created.csp_id)
    assert canonical(resumed, TargetAction.RESUME) in (VmStatus.RESUMING, VmStatus.RUNNING)
    rebooted = await driver.reboot_vm(REGION, created.csp_id)
    assert rebooted.native_status == "running"

    await driver.terminate_vm(REGION, created.csp_id)
    await driver.terminate_vm(REGION, created.csp_id)
    gone = await driver.get_vm(REGION, created.csp_id)
    assert gone is not None and canonical(gone) is VmStatus.TERMINATED
    assert await driver.get_vm(REGION, "i-0123456789abcdef0") is None
    await driver.terminate_vm(REGION, "i-0123456789abcdef0")
    with pytest.raises(CloudNotFoundError):
        await driver.suspend_vm(REGION, "i-0123456789abcdef0")


async def test_a_failed_instance_is_failed(driver: AwsDriver) -> None:
    vm = driver._vm(
        REGION,
        {
            "InstanceId": "i-1",
            "State": {"Name": "terminated"},
            "StateReason": {
                "Code": "Server.InsufficientInstanceCapacity",
                "Message": "Server.InsufficientInstanceCapacity: no capacity",
            },
        },
    )
    assert vm.failure_reason and canonical(vm) is VmStatus.FAILED


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} happened"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "RunInstances",
    )


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("RequestLimitExceeded", 503, ThrottledError),
        ("Throttling", 400, ThrottledError),
        ("InsufficientInstanceCapacity", 500, QuotaExceededError),
        ("InstanceLimitExceeded", 400, QuotaExceededError),
        ("VcpuLimitExceeded", 400, QuotaExceededError),
        ("InvalidParameterValue", 400, InvalidRequestError),
        ("InvalidParameterCombination", 400, InvalidRequestError),
        ("IncorrectInstanceState", 400, InvalidRequestError),
        ("InvalidAMIID.NotFound", 400, CloudNotFoundError),
        ("InvalidInstanceID.NotFound", 400, CloudNotFoundError),
        ("InvalidKeyPair.Duplicate", 400, ConflictError),
        ("DependencyViolation", 400, TransientCloudError),
        ("InternalError", 500, TransientCloudError),
        ("AuthFailure", 401, PermanentCloudError),
        ("UnauthorizedOperation", 403, PermanentCloudError),
    ],
)
def test_errors_are_mapped(code: str, status: int, kind: type[Exception]) -> None:
    error = cloud_error(client_error(code, status), "aws connection 'ec2'")
    assert type(error) is kind
    assert error.code == code
    assert error.retryable is isinstance(error, TransientCloudError)
    if kind is PermanentCloudError:
        assert error.message == f"aws connection 'ec2': credentials rejected ({code})"


def test_an_unreachable_endpoint_is_unreachable() -> None:
    error = cloud_error(EndpointConnectionError(endpoint_url="http://127.0.0.1:1/"), "c")
    assert isinstance(error, CloudUnreachableError) and error.retryable
