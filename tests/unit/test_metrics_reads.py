"""Auto-control's metrics reads (activities.metrics): one read per region where the cloud's
monitoring reads a region at once, else one per VM; every read at the cloud's read rate, and
heartbeats all along (a sample of 1,000 VMs is no longer timed out)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.deps import ActivityDeps
from activities.metrics import read_metrics
from models.cloud import VmCreateRequest, VmMetrics
from models.naming import TAG_MCIS, TAG_NAMESPACE
from models.records import VmRecord
from models.status import VmStatus
from store.repository import Store
from tests.activity_inputs import MCIS, NAMESPACE, CountingLimiter, planned_vm
from tests.fake_cloud import FakeCloud, FakeDriver

PLACES = [("aws", "r1"), ("aws", "r2"), ("gcp", "r1")]
PER_REGION = 4


def metrics(csp_id: str) -> VmMetrics:
    """What the fake monitoring reports: a CPU figure that names the VM."""
    number = float(csp_id.rsplit("-", 1)[1])
    return VmMetrics(
        cpu_percent=number,
        memory_mib=1.0,
        memory_percent=2 * number,
        net_rx_bytes=0,
        net_tx_bytes=0,
        sampled_at=datetime(2025, 1, 1, tzinfo=UTC),
    )


class PerVmMonitoring(FakeDriver):
    """A cloud whose monitoring reads one VM a call."""

    def __init__(self, provider: str, cloud: FakeCloud) -> None:
        super().__init__(provider, cloud)
        self.calls: Counter[str] = Counter()

    async def vm_metrics(self, region: str, csp_id: str) -> VmMetrics:
        self.calls["vm"] += 1
        return metrics(csp_id)


class RegionMonitoring(PerVmMonitoring):
    """A cloud whose monitoring also reads every VM of a region with some tags in one call;
    it leaves out the VMs in `unreported`."""

    def __init__(self, provider: str, cloud: FakeCloud) -> None:
        super().__init__(provider, cloud)
        self.unreported: set[str] = set()

    async def region_metrics(self, region: str, tags: dict[str, str]) -> dict[str, VmMetrics]:
        self.calls["region"] += 1
        listed = await self.list_vms(region, tags)
        return {vm.csp_id: metrics(vm.csp_id) for vm in listed if vm.csp_id not in self.unreported}


@pytest.fixture
def cloud() -> FakeCloud:
    return FakeCloud()


@pytest.fixture
def limiter() -> CountingLimiter:
    return CountingLimiter()


def deps(tmp_path: Path, limiter: CountingLimiter, **drivers: FakeDriver) -> ActivityDeps:
    store = Store(f"sqlite:///{tmp_path / 'mcis.db'}", tmp_path)
    return ActivityDeps(drivers=drivers, store=store, read_limiter=limiter)


async def running_vms(cloud: FakeCloud) -> list[VmRecord]:
    """PER_REGION Running VMs of the MCIS in each of PLACES, at `cloud`, next to as many of
    another MCIS (which no read may report)."""
    template = planned_vm()
    vms: list[VmRecord] = []
    for provider, region in PLACES:
        driver = FakeDriver(provider, cloud)
        for index in range(2 * PER_REGION):
            mcis = MCIS if index % 2 else "other"
            request = VmCreateRequest(
                name=f"{mcis}-{provider}-{region}-{index}",
                spec="small",
                image="ubuntu",
                vnet_csp_id="v",
                subnet_csp_id="s",
                security_group_csp_ids=[],
                key_name="k",
                client_token=uuid.uuid4().hex,
                tags={TAG_NAMESPACE: NAMESPACE, TAG_MCIS: mcis},
            )
            seen = await driver.create_vm(region, request)
            cloud.phase[seen.csp_id] = "running"
            if mcis == MCIS:
                update = {"name": f"g-{len(vms) + 1}", "provider": provider, "region": region}
                update |= {"csp_id": seen.csp_id, "status": VmStatus.RUNNING}
                vms.append(template.model_copy(update=update))
    return vms


async def read(deps: ActivityDeps, vms: list[VmRecord]) -> tuple[dict[str, VmMetrics], int]:
    """The readings, and how many heartbeats the read sent."""
    env, beats = ActivityEnvironment(), []
    env.on_heartbeat = lambda *details: beats.append(details)
    readings = await env.run(read_metrics, deps, vms, NAMESPACE, MCIS)
    return readings, len(beats)


def expected(vms: list[VmRecord]) -> dict[str, VmMetrics]:
    return {vm.name: metrics(vm.csp_id or "") for vm in vms}


async def test_a_cloud_that_reads_a_region_at_once_is_read_once_per_region(
    tmp_path: Path, cloud: FakeCloud, limiter: CountingLimiter
) -> None:
    aws, gcp = RegionMonitoring("aws", cloud), RegionMonitoring("gcp", cloud)
    vms = await running_vms(cloud)
    readings, beats = await read(deps(tmp_path, limiter, aws=aws, gcp=gcp), vms)
    assert readings == expected(vms)
    assert (aws.calls, gcp.calls) == (Counter(region=2), Counter(region=1))
    assert limiter.turns == Counter(aws=2, gcp=1) and beats > 0


async def test_a_cloud_that_reads_one_vm_a_call_is_read_per_vm(
    tmp_path: Path, cloud: FakeCloud, limiter: CountingLimiter
) -> None:
    aws, gcp = PerVmMonitoring("aws", cloud), RegionMonitoring("gcp", cloud)
    vms = await running_vms(cloud)
    readings, beats = await read(deps(tmp_path, limiter, aws=aws, gcp=gcp), vms)
    assert readings == expected(vms)
    assert (aws.calls, gcp.calls) == (Counter(vm=2 * PER_REGION), Counter(region=1))
    assert limiter.turns == Counter(aws=2 * PER_REGION, gcp=1) and beats > 0


async def test_a_vm_the_region_read_leaves_out_is_left_out(
    tmp_path: Path, cloud: FakeCloud, limiter: CountingLimiter
) -> None:
    aws, gcp = RegionMonitoring("aws", cloud), RegionMonitoring("gcp", cloud)
    vms = await running_vms(cloud)
    gone = vms[0]
    aws.unreported.add(gone.csp_id or "")
    readings, _ = await read(deps(tmp_path, limiter, aws=aws, gcp=gcp), vms)
    assert readings == expected(vms[1:])


async def test_a_cloud_without_monitoring_is_refused_for_good(
    tmp_path: Path, cloud: FakeCloud, limiter: CountingLimiter
) -> None:
    aws, gcp = FakeDriver("aws", cloud), RegionMonitoring("gcp", cloud)
    vms = await running_vms(cloud)
    with pytest.raises(ApplicationError, match="offers no monitoring") as raised:
        await read(deps(tmp_path, limiter, aws=aws, gcp=gcp), vms)
    assert raised.value.type == "NotSupported" and raised.value.non_retryable
