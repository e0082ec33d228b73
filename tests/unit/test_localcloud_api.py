"""The local cloud as a real process (time scale 0.01), driven through LocalCloudDriver:
idempotent creates (also when answers get lost), lifecycle per flavor, faults, quota,
persistence across a restart, resources that refuse deletion while in use, and the batch calls
(each VM of a batch on its own; faults fail a batch as a whole)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drivers.base import BatchVmSource, CloudDriver
from drivers.errors import (
    CloudError,
    CloudNotFoundError,
    CloudUnreachableError,
    ConflictError,
    InvalidRequestError,
    QuotaExceededError,
    ThrottledError,
    TransientCloudError,
)
from drivers.localcloud import LocalCloudDriver, local_drivers, vm_body
from drivers.localcloud_admin import LocalCloudAdmin
from drivers.status_map import to_canonical
from localcloud.schemas import MAX_BATCH
from models.cloud import DEFAULT_RULES, CloudVm, SubnetSpec, VmAction, VmCreateRequest
from models.status import TargetAction, VmStatus
from starter.processes import free_port

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")
Drivers = dict[str, LocalCloudDriver]


class LocalCloudProcess:
    """`python -m localcloud` on a free port over one database file."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.url = f"http://127.0.0.1:{free_port()}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        port = self.url.rsplit(":", 1)[1]
        args = ["--port", port, "--db", str(self.db), "--time-scale", "0.01", "--seed", "7"]
        self._proc = subprocess.Popen([sys.executable, "-m", "localcloud", *args], cwd=REPO)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"local cloud exited with {self._proc.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).json()["ok"]:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"local cloud at {self.url} did not become healthy")

    def kill(self) -> None:
        """Stop without a chance to clean up, as a crash would."""
        assert self._proc is not None
        self._proc.kill()
        self._proc.wait()

    def stop(self) -> None:
        assert self._proc is not None
        self._proc.terminate()
        self._proc.wait(timeout=10)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    process = LocalCloudProcess(tmp_path_factory.mktemp("localcloud") / "cloud.db")
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
async def drivers(cloud: LocalCloudProcess) -> AsyncIterator[Drivers]:
    found = local_drivers(cloud.url)
    yield found
    await found["aws"].aclose()


@pytest.fixture
async def admin(cloud: LocalCloudProcess) -> AsyncIterator[LocalCloudAdmin]:
    client = LocalCloudAdmin(cloud.url)
    yield client
    await client.clear_faults()
    await client.clear_timings()
    await client.aclose()


PUBLIC_KEY = (
    Ed25519PrivateKey.generate()
    .public_key()
    .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    .decode()
)


class Site:
    """A region with a vNet, security group and key pair, ready to create VMs in."""

    def __init__(self, driver: LocalCloudDriver, region: str) -> None:
        self.driver, self.region = driver, region
        self.tag = uuid.uuid4().hex[:8]  # tags every VM this site makes

    async def prepare(self, name: str = "test") -> Site:
        vnet = await self.driver.ensure_vnet(
            self.region, name, "10.0.0.0/16", [SubnetSpec(name="main", cidr="10.0.1.0/24")], {}
        )
        group = await self.driver.ensure_security_group(
            self.region, name, vnet.csp_id, DEFAULT_RULES, {}
        )
        await self.driver.import_key_pair(self.region, name, PUBLIC_KEY, {})
        self.vnet_id, self.subnet_id, self.group_id, self.key = (
            vnet.csp_id,
            vnet.subnets["main"],
            group.csp_id,
            name,
        )
        return self

    def request(self, token: str | None = None, spec: str | None = None) -> VmCreateRequest:
        specs = {"aws": "t3.micro", "gcp": "e2-small", "azure": "Standard_B1s"}
        specs |= {"alibaba": "ecs.g6.large", "openstack": "m1.small", "cloudit": "small-2"}
        images = {"aws": "debian-12-amd64", "gcp": "debian-12", "azure": "Debian12"}
        images |= {"alibaba": "debian_12_5_x64_20G_alibase_20240220.vhd"}
        images |= {"openstack": "debian-12", "cloudit": "DEBIAN-12"}
        return VmCreateRequest(
            name=f"vm-{self.tag}",
            spec=spec or specs[self.driver.provider],
            image=images[self.driver.provider],
            vnet_csp_id=self.vnet_id,
            subnet_csp_id=self.subnet_id,
            security_group_csp_ids=[self.group_id],
            key_name=self.key,
            client_token=token or uuid.uuid4().hex,
            tags={"test": self.tag},
        )

    async def create(self, token: str | None = None) -> CloudVm:
        return await self.driver.create_vm(self.region, self.request(token))

    async def wait(self, vm_id: str, status: VmStatus, action: TargetAction) -> CloudVm | None:
        """Poll the VM until its canonical status (during `action`) is `status`."""
        deadline = time.monotonic() + 5
        while True:
            vm = await self.driver.get_vm(self.region, vm_id)
            if vm is None:
                seen = to_canonical(self.driver.provider, None, action)
            else:
                seen = to_canonical(vm.provider, vm.native_status, action, vm.failure_reason)
            if seen is status:
                return vm
            assert time.monotonic() < deadline, f"{vm_id} still {seen} ({vm}), wanted {status}"
            await asyncio.sleep(0.05)


async def site(drivers: Drivers, provider: str, region: str) -> Site:
    return await Site(drivers[provider], region).prepare()


async def until_success(call: Callable[[], Awaitable[T]]) -> T:
    """What a caller of the driver does: retry while the error says a retry can help."""
    while True:
        try:
            return await call()
        except TransientCloudError:
            await asyncio.sleep(0.01)


def test_driver_implements_the_protocol() -> None:
    driver: CloudDriver = LocalCloudDriver("aws", "http://127.0.0.1:1")
    assert driver.provider == "aws"


async def test_catalog_lists_regions_specs_and_images(drivers: Drivers) -> None:
    gcp = drivers["gcp"]
    assert "asia-northeast3" in {r.name for r in await gcp.regions()}
    specs = await gcp.specs("asia-northeast3")
    assert {s.region for s in specs} == {"asia-northeast3"}
    assert "gcp+asia-northeast3+e2-standard-2" in {s.id for s in specs}
    assert "debian-12" in {i.name for i in await gcp.images("asia-northeast3")}
    with pytest.raises(CloudNotFoundError, match="mars"):
        await gcp.specs("mars")


async def test_create_is_idempotent_by_client_token(drivers: Drivers) -> None:
    here = await site(drivers, "aws", "us-east-1")
    first = await here.create("token-once")
    again = await here.create("token-once")
    assert again.csp_id == first.csp_id
    with pytest.raises(ConflictError, match="other parameters"):
        await here.driver.create_vm(here.region, here.request("token-once", spec="t3.large"))
    assert [vm.csp_id for vm in await here.driver.list_vms(here.region, {"test": here.tag})] == [
        first.csp_id
    ]


async def test_retried_creates_make_one_vm_per_token_when_answers_get_lost(
    drivers: Drivers, admin: LocalCloudAdmin
) -> None:
    here = await site(drivers, "openstack", "RegionOne")
    await admin.set_faults("openstack", "RegionOne", api_error_rate=0.5)
    tokens = [f"faulty-{here.tag}-{i}" for i in range(20)]
    made = [await until_success(partial(here.create, t)) for t in tokens]
    await admin.clear_faults()
    listed = await admin.vms({"test": here.tag})
    assert sorted(vm.client_token for vm in listed) == sorted(tokens)
    assert {vm.csp_id for vm in listed} == {vm.csp_id for vm in made}
    assert (await admin.stats())["requests"]["lost_responses"] > 0


async def test_vm_boots_runs_suspends_and_resumes(drivers: Drivers) -> None:
    here = await site(drivers, "aws", "ap-northeast-2")
    vm = await here.create()
    assert vm.native_status == "pending"
    assert vm.public_ip and vm.public_ip.startswith("127.250.")  # phantom: loopback only
    assert vm.private_ip and vm.private_ip.startswith("10.0.1.")
    await here.wait(vm.csp_id, VmStatus.RUNNING, TargetAction.CREATE)
    suspending = await here.driver.suspend_vm(here.region, vm.csp_id)
    assert suspending.native_status == "stopping"
    stopped = await here.wait(vm.csp_id, VmStatus.SUSPENDED, TargetAction.SUSPEND)
    assert stopped and stopped.native_status == "stopped"
    with pytest.raises(InvalidRequestError, match="suspended"):
        await here.driver.reboot_vm(here.region, vm.csp_id)
    assert (await here.driver.resume_vm(here.region, vm.csp_id)).native_status == "pending"
    await here.wait(vm.csp_id, VmStatus.RUNNING, TargetAction.RESUME)


async def test_gcp_reports_a_suspended_vm_as_terminated(drivers: Drivers) -> None:
    here = await site(drivers, "gcp", "europe-west1")
    vm = await here.create()
    await here.wait(vm.csp_id, VmStatus.RUNNING, TargetAction.CREATE)
    await here.driver.suspend_vm(here.region, vm.csp_id)
    stopped = await here.wait(vm.csp_id, VmStatus.SUSPENDED, TargetAction.NONE)
    assert stopped and stopped.native_status == "TERMINATED"


async def test_quota_counts_live_vms_of_the_region(
    drivers: Drivers, admin: LocalCloudAdmin
) -> None:
    here = await site(drivers, "azure", "westeurope")
    await admin.set_faults("azure", "westeurope", quota=1)
    first = await here.create("quota-1")
    with pytest.raises(QuotaExceededError, match="quota of 1"):
        await here.create("quota-2")
    assert (await here.create("quota-1")).csp_id == first.csp_id  # a retry is not a new VM


async def test_throttled_calls_say_when_to_retry(drivers: Drivers, admin: LocalCloudAdmin) -> None:
    await admin.set_faults("azure", throttle_rate=1.0, retry_after_s=0.25)
    with pytest.raises(ThrottledError) as caught:
        await drivers["azure"].list_vms("eastus")
    assert caught.value.retry_after == 0.25


async def test_unknown_spec_is_named(drivers: Drivers) -> None:
    here = await site(drivers, "aws", "us-east-1")
    with pytest.raises(InvalidRequestError, match=r"t9\.huge"):
        await here.driver.create_vm(here.region, here.request(spec="t9.huge"))


FAILED_NATIVE = {
    "aws": "terminated",
    "gcp": "TERMINATED",
    "azure": "failed",
    "alibaba": "Stopped",
    "openstack": "ERROR",
    "cloudit": "FAILED",
}


async def test_boot_failure_shows_each_clouds_failed_status(
    drivers: Drivers, admin: LocalCloudAdmin
) -> None:
    await admin.set_timings(boot_s=0.1)

    async def fail_one(provider: str) -> CloudVm | None:
        region = (await drivers[provider].regions())[-1].name
        await admin.set_faults(provider, region, boot_failure_rate=1.0)
        here = await site(drivers, provider, region)
        vm = await here.create()
        return await here.wait(vm.csp_id, VmStatus.FAILED, TargetAction.CREATE)

    failed = await asyncio.gather(*(fail_one(p) for p in FAILED_NATIVE))
    assert {vm.provider: vm.native_status for vm in failed if vm} == FAILED_NATIVE
    assert all(vm and vm.failure_reason for vm in failed)


async def test_terminated_aws_vm_stays_listed_and_gcp_vm_is_gone(
    drivers: Drivers,
) -> None:
    aws, gcp = await site(drivers, "aws", "eu-west-1"), await site(drivers, "gcp", "us-central1")
    aws_vm, gcp_vm = await aws.create(), await gcp.create()
    await aws.wait(aws_vm.csp_id, VmStatus.RUNNING, TargetAction.CREATE)
    await gcp.wait(gcp_vm.csp_id, VmStatus.RUNNING, TargetAction.CREATE)
    await aws.driver.terminate_vm(aws.region, aws_vm.csp_id)
    await gcp.driver.terminate_vm(gcp.region, gcp_vm.csp_id)
    gone = await aws.wait(aws_vm.csp_id, VmStatus.TERMINATED, TargetAction.TERMINATE)
    assert gone and gone.native_status == "terminated" and gone.public_ip is None
    assert await gcp.wait(gcp_vm.csp_id, VmStatus.TERMINATED, TargetAction.TERMINATE) is None
    assert [vm.csp_id for vm in await aws.driver.list_vms(aws.region, {"test": aws.tag})] == [
        aws_vm.csp_id
    ]
    assert await gcp.driver.list_vms(gcp.region, {"test": gcp.tag}) == []
    await gcp.driver.terminate_vm(gcp.region, gcp_vm.csp_id)  # gone already: still fine
    with pytest.raises(CloudNotFoundError, match="no longer exists"):
        await gcp.create(gcp_vm.client_token)  # the token never makes a second VM


async def test_state_survives_a_restart(
    cloud: LocalCloudProcess, drivers: Drivers, admin: LocalCloudAdmin
) -> None:
    await admin.set_timings("alibaba", boot_s=3.0)
    here = await site(drivers, "alibaba", "cn-hangzhou")
    vm = await here.create()
    cloud.kill()
    cloud.start()
    after = await here.driver.get_vm(here.region, vm.csp_id)
    assert after and (after.name, after.public_ip) == (vm.name, vm.public_ip)
    assert after.native_status == "Pending"
    await here.wait(vm.csp_id, VmStatus.RUNNING, TargetAction.CREATE)
    assert (await here.create(vm.client_token)).csp_id == vm.csp_id


async def test_resources_in_use_cannot_be_deleted(drivers: Drivers) -> None:
    here = await Site(drivers["cloudit"], "pangyo-1").prepare("in-use")
    vm = await here.create()
    with pytest.raises(ConflictError, match=vm.csp_id):
        await here.driver.delete_vnet(here.region, here.vnet_id)
    with pytest.raises(ConflictError, match=vm.csp_id):
        await here.driver.delete_security_group(here.region, here.group_id)
    with pytest.raises(ConflictError, match=vm.csp_id):
        await here.driver.delete_key_pair(here.region, here.key)
    await here.driver.terminate_vm(here.region, vm.csp_id)
    await here.wait(vm.csp_id, VmStatus.TERMINATED, TargetAction.TERMINATE)
    with pytest.raises(ConflictError, match="security groups"):
        await here.driver.delete_vnet(here.region, here.vnet_id)
    await here.driver.delete_security_group(here.region, here.group_id)
    await here.driver.delete_key_pair(here.region, here.key)
    await here.driver.delete_vnet(here.region, here.vnet_id)
    await here.driver.delete_vnet(here.region, here.vnet_id)  # already gone: still fine


async def test_vnet_name_with_other_cidr_conflicts(drivers: Drivers) -> None:
    driver = drivers["azure"]
    vnet = await driver.ensure_vnet("koreacentral", "same-name", "10.9.0.0/16", [], {})
    again = await driver.ensure_vnet("koreacentral", "same-name", "10.9.0.0/16", [], {})
    assert again.csp_id == vnet.csp_id
    with pytest.raises(ConflictError, match=r"10\.9\.0\.0/16"):
        await driver.ensure_vnet("koreacentral", "same-name", "10.8.0.0/16", [], {})


async def test_unreachable_cloud_is_named() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    driver = LocalCloudDriver("aws", url)
    with pytest.raises(CloudUnreachableError, match=url):
        await driver.regions()
    await driver.aclose()


async def test_region_metrics_reads_every_tagged_vm_of_the_region_in_one_call(
    drivers: Drivers, admin: LocalCloudAdmin
) -> None:
    driver = drivers["azure"]
    here, neighbour = await site(drivers, "azure", "eastus"), await site(drivers, "azure", "eastus")
    mine = [await here.create() for _ in range(3)]
    await neighbour.create()  # same region, another tag
    await admin.simulate_load({"test": here.tag}, 42.0)
    read = await driver.region_metrics(here.region, {"test": here.tag})
    assert set(read) == {vm.csp_id for vm in mine}
    assert {m.cpu_percent for m in read.values()} == {42.0}
    one = await driver.vm_metrics(here.region, mine[0].csp_id)
    assert read[mine[0].csp_id].model_dump(exclude={"sampled_at"}) == one.model_dump(
        exclude={"sampled_at"}
    )


# batches of one region (BatchVmSource)


def test_driver_is_a_batch_vm_source() -> None:
    assert isinstance(LocalCloudDriver("aws", "http://127.0.0.1:1"), BatchVmSource)


def vms_of(results: Sequence[CloudVm | CloudError | None]) -> list[CloudVm]:
    """The VMs of batch results, each checked to be one (no error, no None)."""
    assert all(isinstance(r, CloudVm) for r in results), results
    return [r for r in results if isinstance(r, CloudVm)]


async def test_batch_create_is_idempotent_by_client_token(drivers: Drivers) -> None:
    here = await site(drivers, "gcp", "asia-northeast3")
    requests = [here.request(f"batch-{here.tag}-{i}") for i in range(5)]
    first = vms_of(await here.driver.create_vms(here.region, requests))
    assert [vm.client_token for vm in first] == [r.client_token for r in requests]
    assert len({vm.public_ip for vm in first}) == len({vm.private_ip for vm in first}) == 5
    again = vms_of(await here.driver.create_vms(here.region, [*requests, requests[0]]))
    assert [vm.csp_id for vm in again] == [vm.csp_id for vm in first] + [first[0].csp_id]
    listed = await here.driver.list_vms(here.region, {"test": here.tag})
    assert sorted(vm.csp_id for vm in listed) == sorted(vm.csp_id for vm in first)
    one = await here.create(requests[2].client_token)  # the per-VM call finds the same VM
    assert one.csp_id == first[2].csp_id
    assert await here.driver.create_vms(here.region, []) == []


async def test_batch_answers_each_vm_with_the_per_vm_status(cloud: LocalCloudProcess) -> None:
    """The wire shape: `{"results": [{"status", "vm"} | {"status", "error"}]}` in order."""
    async with httpx.AsyncClient(base_url=cloud.url) as client:
        driver = LocalCloudDriver("aws", cloud.url, client)
        here = await Site(driver, "ap-south-1").prepare()
        body = vm_body(here.request(f"wire-{here.tag}"))
        bodies = [body, {**body, "spec": None}]  # not a create body: that VM's 400 only
        path = f"/v1/aws/regions/{here.region}/vms:batch"
        made = (await client.post(path, json={"vms": bodies})).json()["results"]
        assert [r["status"] for r in made] == [201, 400]
        error = made[1]["error"]
        assert error["code"] == "InvalidParameter" and "spec" in error["message"]
        again = (await client.post(path, json={"vms": bodies[:1]})).json()["results"]
        assert again == [{"status": 200, "vm": made[0]["vm"]}]
        action = {"action": "terminate", "ids": [made[0]["vm"]["id"], "vm-nothere"]}
        path = f"/v1/aws/regions/{here.region}/vms:action"
        done = (await client.post(path, json=action)).json()["results"]
        assert [r["status"] for r in done] == [202, 404]
        assert done[0]["vm"]["native_status"] == "shutting-down"
        assert done[1]["error"]["code"] == "NotFound"
        too_many = {"action": "reboot", "ids": ["vm-x"] * (MAX_BATCH + 1)}
        assert (await client.post(path, json=too_many)).status_code == 400


async def test_a_vm_refused_in_a_batch_leaves_the_others_created(
    drivers: Drivers, admin: LocalCloudAdmin
) -> None:
    here = await site(drivers, "azure", "norwayeast")
    await here.create("taken")
    await admin.set_refusal("create", "azure", "norwayeast", rate=0.5, seed=3)
    requests = [here.request(f"refusal-{here.tag}-{i}") for i in range(10)]
    requests[1] = here.request(spec="Standard_Huge")
    requests[2] = here.request("taken", spec="Standard_B2s")  # the token made another VM
    requests[3] = here.request().model_copy(update={"security_group_csp_ids": []})
    results = await here.driver.create_vms(here.region, requests)
    assert isinstance(results[1], InvalidRequestError) and "Standard_Huge" in results[1].message
    assert isinstance(results[2], ConflictError) and "other parameters" in results[2].message
    assert isinstance(results[3], InvalidRequestError) and "security_group_ids" in str(results[3])
    made = [r for r in results if isinstance(r, CloudVm)]
    refused = [
        r for r in results if isinstance(r, CloudError) and r.code == "OperationNotPermitted"
    ]
    assert made and refused and len(made) + len(refused) == 7
    assert all(isinstance(r, InvalidRequestError) for r in refused)  # permanent, as per VM
    listed = await here.driver.list_vms(here.region, {"test": here.tag})
    assert len(listed) == 1 + len(made)
    await admin.clear_faults()
    retried = await here.driver.create_vms(here.region, requests)
    for before, after in zip(results, retried, strict=True):
        if isinstance(before, CloudVm):  # created once: the retry finds it
            assert isinstance(after, CloudVm) and after.csp_id == before.csp_id
        elif before in refused:  # refused before: made now
            assert isinstance(after, CloudVm)


async def test_a_batch_fills_the_quota_and_refuses_the_vms_beyond_it(
    drivers: Drivers, admin: LocalCloudAdmin
) -> None:
    here = await site(drivers, "azure", "uaenorth")
    await here.create()
    await admin.set_faults("azure", "uaenorth", quota=3)
    results = await here.driver.create_vms(here.region, [here.request() for _ in range(4)])
    assert [type(r) for r in results] == [CloudVm, CloudVm, QuotaExceededError, QuotaExceededError]


async def test_retried_batch_creates_make_one_vm_per_token_when_answers_get_lost(
    drivers: Drivers, admin: LocalCloudAdmin
) -> None:
    here = await site(drivers, "openstack", "RegionTwo")
    await admin.set_faults("openstack", "RegionTwo", api_error_rate=0.6)
    made: list[CloudVm] = []
    lost = (await admin.stats())["requests"]["lost_responses"]
    for attempt in range(30):  # batches of new tokens until one's answer got lost
        requests = [here.request(f"lost-{here.tag}-{attempt}-{i}") for i in range(10)]
        create = partial(here.driver.create_vms, here.region, requests)
        made += vms_of(await until_success(create))
        if (await admin.stats())["requests"]["lost_responses"] > lost:
            break
    else:
        pytest.fail("no answer was lost")
    await admin.clear_faults()
    listed = await here.driver.list_vms(here.region, {"test": here.tag})
    assert sorted(vm.csp_id for vm in listed) == sorted(vm.csp_id for vm in made)
    assert len({vm.client_token for vm in listed}) == len(listed) == len(made)


async def test_a_fault_on_the_batch_endpoints_fails_the_whole_call(
    drivers: Drivers, admin: LocalCloudAdmin
) -> None:
    here = await site(drivers, "alibaba", "cn-beijing")
    vm = await here.create()
    await admin.set_faults("alibaba", "cn-beijing", throttle_rate=1.0, retry_after_s=0.5)
    with pytest.raises(ThrottledError) as caught:
        await here.driver.create_vms(here.region, [here.request(), here.request()])
    assert caught.value.retry_after == 0.5
    await admin.set_faults("alibaba", "cn-beijing", api_error_rate=1.0)
    with pytest.raises(TransientCloudError):  # an error, or the lost answer of a done call
        await here.driver.act_on_vms(here.region, VmAction.TERMINATE, [vm.csp_id])
    await admin.clear_faults()
    listed = await here.driver.list_vms(here.region, {"test": here.tag})
    assert [v.csp_id for v in listed] == [vm.csp_id]  # the throttled batch made nothing


async def test_batch_terminate_twice_is_fine(drivers: Drivers, admin: LocalCloudAdmin) -> None:
    await admin.set_timings("gcp", terminate_s=0.0)
    aws, gcp = await site(drivers, "aws", "sa-east-1"), await site(drivers, "gcp", "asia-east1")
    for here in (aws, gcp):
        made = vms_of(await here.driver.create_vms(here.region, [here.request() for _ in range(3)]))
        ids = [vm.csp_id for vm in made]
        first = await here.driver.act_on_vms(here.region, VmAction.TERMINATE, [*ids, "vm-none"])
        second = await here.driver.act_on_vms(here.region, VmAction.TERMINATE, ids)
        assert first[-1] is None  # never known: as terminate_vm, not an error
        if here is gcp:  # gone at once (terminate_s 0): the cloud no longer knows them
            assert first == [None] * 4 and second == [None] * 3
            continue
        assert {vm.native_status for vm in vms_of(first[:-1])} == {"shutting-down"}
        assert [vm.csp_id for vm in vms_of(second)] == ids  # under way: the VMs as they are
        for vm_id in ids:
            await here.wait(vm_id, VmStatus.TERMINATED, TargetAction.TERMINATE)
        third = await here.driver.act_on_vms(here.region, VmAction.TERMINATE, ids)
        assert {vm.native_status for vm in vms_of(third)} == {"terminated"}  # AWS keeps them


async def test_act_on_vms_refuses_only_the_vms_it_cannot_act_on(
    drivers: Drivers, admin: LocalCloudAdmin
) -> None:
    here = await site(drivers, "cloudit", "busan-1")
    await admin.set_timings("cloudit", boot_s=0.0, stop_s=5.0)
    a, b, c = vms_of(await here.driver.create_vms(here.region, [here.request() for _ in range(3)]))
    unknown = "vm-0123456789abcdef"
    ids = [a.csp_id, unknown, b.csp_id, a.csp_id]
    suspended = await here.driver.act_on_vms(here.region, VmAction.SUSPEND, ids)
    assert isinstance(suspended[1], CloudNotFoundError) and unknown in suspended[1].message
    kept = vms_of([suspended[0], *suspended[2:]])
    assert [(vm.csp_id, vm.native_status) for vm in kept] == [
        (a.csp_id, "STOPPING"),
        (b.csp_id, "STOPPING"),
        (a.csp_id, "STOPPING"),  # twice in one batch: the second is a retry of one under way
    ]
    rebooted = await here.driver.act_on_vms(here.region, VmAction.REBOOT, [a.csp_id, c.csp_id])
    assert isinstance(rebooted[0], InvalidRequestError) and rebooted[0].code == "IncorrectState"
    assert [(vm.csp_id, vm.native_status) for vm in vms_of(rebooted[1:])] == [
        (c.csp_id, "REBOOTING")
    ]
    await admin.set_refusal("terminate", "cloudit", "busan-1", code="Denied")
    refused = await here.driver.act_on_vms(here.region, VmAction.TERMINATE, [a.csp_id, c.csp_id])
    assert [r.code if isinstance(r, CloudError) else r for r in refused] == ["Denied"] * 2
