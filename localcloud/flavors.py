"""The six cloud flavors the local cloud imitates: their regions (the real clouds' public regions
with their coordinates and price factors, from `localcloud.world_regions`), instance types with
prices, images, lifecycle timings, and the native status names each one reports for every
internal lifecycle phase. Pure data plus `native_status`; no I/O.

Native names are chosen so that `drivers.status_map.to_canonical` maps them right (checked by
tests/unit/test_localcloud_flavors.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from localcloud.world_regions import REGION_SETS, offered_regions
from localcloud.world_regions import RegionInfo as RegionInfo  # re-exported


class Phase(StrEnum):
    """Where a VM is in its lifecycle, whatever the flavor."""

    CREATING = "creating"
    RUNNING = "running"
    SUSPENDING = "suspending"
    SUSPENDED = "suspended"
    RESUMING = "resuming"
    REBOOTING = "rebooting"
    TERMINATING = "terminating"
    TERMINATED = "terminated"
    FAILED = "failed"


@dataclass(frozen=True)
class PowerState:
    """A native name that depends on whether the VM was powered on when the phase began
    (OpenStack keeps showing ACTIVE or SHUTOFF while it deletes a server)."""

    on: str
    off: str


POWERED_OFF: frozenset[Phase] = frozenset({Phase.SUSPENDED, Phase.RESUMING, Phase.FAILED})
"""Phases a VM is not running in, as far as a PowerState name is concerned."""

Segments = tuple[tuple[float, str | PowerState], ...]
"""(start as a fraction of the phase's duration, native name), by ascending start."""


@dataclass(frozen=True)
class SpecInfo:
    name: str
    vcpus: int
    memory_gib: float
    base_price: float  # USD per hour in the flavor's reference region (price factor 1)


@dataclass(frozen=True)
class ImageInfo:
    name: str
    os: str


@dataclass(frozen=True)
class Timings:
    """Seconds each transitional phase lasts at time scale 1."""

    boot_s: float
    stop_s: float
    start_s: float
    reboot_s: float
    terminate_s: float


@dataclass(frozen=True)
class Flavor:
    name: str
    regions: tuple[RegionInfo, ...]
    specs: tuple[SpecInfo, ...]
    images: tuple[ImageInfo, ...]
    timings: Timings
    natives: Mapping[Phase, Segments]
    """Native names per phase; a phase left out (only ever TERMINATED) means the cloud no
    longer knows the VM: it is gone from every listing and GET answers 404."""
    failure_reason: str

    def region(self, name: str) -> RegionInfo | None:
        return next((r for r in self.regions if r.name == name), None)

    def spec(self, name: str) -> SpecInfo | None:
        return next((s for s in self.specs if s.name == name), None)

    def image(self, name: str) -> ImageInfo | None:
        return next((i for i in self.images if i.name == name), None)

    @property
    def keeps_terminated(self) -> bool:
        """True when terminated VMs stay listable (AWS `terminated`, Alibaba `Deleted`)."""
        return Phase.TERMINATED in self.natives


def price(spec: SpecInfo, region: RegionInfo) -> float:
    return round(spec.base_price * region.price_factor, 4)


def native_status(
    flavor: Flavor, phase: Phase, progress: float, from_phase: Phase | None
) -> str | None:
    """The native status a VM of `flavor` shows `progress` (0..1) into `phase`, having entered
    it from `from_phase`; None when the cloud no longer knows the VM."""
    segments = flavor.natives.get(phase)
    if segments is None:
        return None
    name = next(n for start, n in reversed(segments) if start <= progress)
    if isinstance(name, PowerState):
        return name.off if from_phase in POWERED_OFF else name.on
    return name


def _one(name: str | PowerState) -> Segments:
    return ((0.0, name),)


P = Phase

AWS = Flavor(
    name="aws",
    regions=offered_regions("aws"),
    specs=(
        SpecInfo("t3.micro", 2, 1, 0.0104),
        SpecInfo("t3.small", 2, 2, 0.0208),
        SpecInfo("t3.medium", 2, 4, 0.0416),
        SpecInfo("t3.large", 2, 8, 0.0832),
        SpecInfo("m5.large", 2, 8, 0.096),
        SpecInfo("m5.xlarge", 4, 16, 0.192),
        SpecInfo("m5.2xlarge", 8, 32, 0.384),
        SpecInfo("c5.large", 2, 4, 0.085),
        SpecInfo("c5.xlarge", 4, 8, 0.17),
        SpecInfo("r5.large", 2, 16, 0.126),
    ),
    images=(
        ImageInfo("ubuntu-jammy-22.04-amd64-server", "Ubuntu 22.04"),
        ImageInfo("ubuntu-focal-20.04-amd64-server", "Ubuntu 20.04"),
        ImageInfo("debian-12-amd64", "Debian 12"),
        ImageInfo("al2023-ami-x86_64", "Amazon Linux 2023"),
    ),
    timings=Timings(boot_s=30, stop_s=40, start_s=25, reboot_s=20, terminate_s=35),
    natives={
        P.CREATING: _one("pending"),
        P.RUNNING: _one("running"),
        P.SUSPENDING: _one("stopping"),
        P.SUSPENDED: _one("stopped"),
        P.RESUMING: _one("pending"),
        P.REBOOTING: _one("rebooting"),
        P.TERMINATING: _one("shutting-down"),
        P.TERMINATED: _one("terminated"),
        P.FAILED: _one("terminated"),
    },
    failure_reason="Server.InternalError",
)

GCP = Flavor(
    name="gcp",
    regions=offered_regions("gcp"),
    specs=(
        SpecInfo("e2-micro", 2, 1, 0.0084),
        SpecInfo("e2-small", 2, 2, 0.0168),
        SpecInfo("e2-medium", 2, 4, 0.0335),
        SpecInfo("e2-standard-2", 2, 8, 0.067),
        SpecInfo("e2-standard-4", 4, 16, 0.134),
        SpecInfo("e2-standard-8", 8, 32, 0.268),
        SpecInfo("n2-standard-2", 2, 8, 0.0971),
        SpecInfo("n2-standard-4", 4, 16, 0.1942),
        SpecInfo("c2-standard-4", 4, 16, 0.2088),
        SpecInfo("n2-highmem-2", 2, 16, 0.131),
    ),
    images=(
        ImageInfo("ubuntu-2204-lts", "Ubuntu 22.04"),
        ImageInfo("ubuntu-2004-lts", "Ubuntu 20.04"),
        ImageInfo("debian-12", "Debian 12"),
        ImageInfo("rocky-linux-9", "Rocky Linux 9"),
    ),
    timings=Timings(boot_s=25, stop_s=30, start_s=20, reboot_s=50, terminate_s=40),
    natives={
        P.CREATING: ((0.0, "PROVISIONING"), (0.4, "STAGING")),
        P.RUNNING: _one("RUNNING"),
        P.SUSPENDING: _one("STOPPING"),
        P.SUSPENDED: _one("TERMINATED"),
        P.RESUMING: ((0.0, "PROVISIONING"), (0.4, "STAGING")),
        P.REBOOTING: ((0.0, "STOPPING"), (0.45, "TERMINATED"), (0.55, "STAGING")),
        P.TERMINATING: _one("STOPPING"),
        P.FAILED: _one("TERMINATED"),
    },
    failure_reason="ZONE_RESOURCE_POOL_EXHAUSTED",
)

AZURE = Flavor(
    name="azure",
    regions=offered_regions("azure"),
    specs=(
        SpecInfo("Standard_B1s", 1, 1, 0.0104),
        SpecInfo("Standard_B1ms", 1, 2, 0.0207),
        SpecInfo("Standard_B2s", 2, 4, 0.0416),
        SpecInfo("Standard_B2ms", 2, 8, 0.0832),
        SpecInfo("Standard_D2s_v5", 2, 8, 0.096),
        SpecInfo("Standard_D4s_v5", 4, 16, 0.192),
        SpecInfo("Standard_D8s_v5", 8, 32, 0.384),
        SpecInfo("Standard_F2s_v2", 2, 4, 0.0846),
        SpecInfo("Standard_E2s_v5", 2, 16, 0.126),
    ),
    images=(
        ImageInfo("Ubuntu2204", "Ubuntu 22.04"),
        ImageInfo("Ubuntu2004", "Ubuntu 20.04"),
        ImageInfo("Debian12", "Debian 12"),
    ),
    timings=Timings(boot_s=90, stop_s=60, start_s=45, reboot_s=40, terminate_s=60),
    natives={
        P.CREATING: ((0.0, "creating"), (0.6, "starting")),
        P.RUNNING: _one("running"),
        P.SUSPENDING: _one("deallocating"),
        P.SUSPENDED: _one("deallocated"),
        P.RESUMING: _one("starting"),
        P.REBOOTING: _one("starting"),
        P.TERMINATING: _one("deleting"),
        P.FAILED: _one("failed"),
    },
    failure_reason="AllocationFailed",
)

ALIBABA = Flavor(
    name="alibaba",
    regions=offered_regions("alibaba"),
    specs=(
        SpecInfo("ecs.t6-c1m1.large", 2, 2, 0.0141),
        SpecInfo("ecs.t6-c1m2.large", 2, 4, 0.028),
        SpecInfo("ecs.c6.large", 2, 4, 0.0713),
        SpecInfo("ecs.c6.xlarge", 4, 8, 0.1426),
        SpecInfo("ecs.g6.large", 2, 8, 0.0891),
        SpecInfo("ecs.g6.xlarge", 4, 16, 0.178),
        SpecInfo("ecs.g6.2xlarge", 8, 32, 0.356),
        SpecInfo("ecs.r6.large", 2, 16, 0.1166),
    ),
    images=(
        ImageInfo("ubuntu_22_04_x64_20G_alibase_20240220.vhd", "Ubuntu 22.04"),
        ImageInfo("ubuntu_20_04_x64_20G_alibase_20240220.vhd", "Ubuntu 20.04"),
        ImageInfo("debian_12_5_x64_20G_alibase_20240220.vhd", "Debian 12"),
    ),
    timings=Timings(boot_s=40, stop_s=25, start_s=30, reboot_s=40, terminate_s=20),
    natives={
        P.CREATING: _one("Pending"),
        P.RUNNING: _one("Running"),
        P.SUSPENDING: _one("Stopping"),
        P.SUSPENDED: _one("Stopped"),
        P.RESUMING: _one("Starting"),
        P.REBOOTING: ((0.0, "Stopping"), (0.5, "Starting")),
        P.TERMINATING: _one("Stopping"),
        P.TERMINATED: _one("Deleted"),
        P.FAILED: _one("Stopped"),
    },
    failure_reason="InstanceStartFailed",
)

OPENSTACK = Flavor(
    name="openstack",
    regions=offered_regions("openstack"),
    specs=(
        SpecInfo("m1.tiny", 1, 0.5, 0.005),
        SpecInfo("m1.small", 1, 2, 0.011),
        SpecInfo("m1.medium", 2, 4, 0.022),
        SpecInfo("m1.large", 4, 8, 0.044),
        SpecInfo("m1.xlarge", 8, 16, 0.088),
        SpecInfo("c1.large", 4, 4, 0.038),
    ),
    images=(
        ImageInfo("ubuntu-22.04", "Ubuntu 22.04"),
        ImageInfo("ubuntu-20.04", "Ubuntu 20.04"),
        ImageInfo("debian-12", "Debian 12"),
        ImageInfo("cirros-0.6.2", "CirrOS 0.6"),
    ),
    timings=Timings(boot_s=50, stop_s=15, start_s=20, reboot_s=30, terminate_s=10),
    natives={
        P.CREATING: _one("BUILD"),
        P.RUNNING: _one("ACTIVE"),
        P.SUSPENDING: _one("ACTIVE"),
        P.SUSPENDED: _one("SHUTOFF"),
        P.RESUMING: _one("SHUTOFF"),
        P.REBOOTING: _one("REBOOT"),
        P.TERMINATING: _one(PowerState(on="ACTIVE", off="SHUTOFF")),
        P.FAILED: _one("ERROR"),
    },
    failure_reason="No valid host was found",
)

CLOUDIT = Flavor(
    name="cloudit",
    regions=offered_regions("cloudit"),
    specs=(
        SpecInfo("micro-1", 1, 1, 0.009),
        SpecInfo("small-2", 1, 2, 0.017),
        SpecInfo("medium-4", 2, 4, 0.034),
        SpecInfo("large-8", 2, 8, 0.068),
        SpecInfo("xlarge-16", 4, 16, 0.136),
        SpecInfo("2xlarge-32", 8, 32, 0.272),
    ),
    images=(
        ImageInfo("UBUNTU-22.04", "Ubuntu 22.04"),
        ImageInfo("UBUNTU-20.04", "Ubuntu 20.04"),
        ImageInfo("DEBIAN-12", "Debian 12"),
    ),
    timings=Timings(boot_s=60, stop_s=20, start_s=30, reboot_s=40, terminate_s=25),
    natives={
        P.CREATING: _one("CREATING"),
        P.RUNNING: _one("RUNNING"),
        P.SUSPENDING: _one("STOPPING"),
        P.SUSPENDED: _one("STOPPED"),
        P.RESUMING: _one("STARTING"),
        P.REBOOTING: _one("REBOOTING"),
        P.TERMINATING: _one("DESTROYING"),
        P.FAILED: _one("FAILED"),
    },
    failure_reason="HOST_ALLOCATION_FAILED",
)

FLAVORS: dict[str, Flavor] = {f.name: f for f in (AWS, GCP, AZURE, ALIBABA, OPENSTACK, CLOUDIT)}

_EVERY_REGION = [(f.name, r.name) for f in FLAVORS.values() for r in f.regions]
_FIRST_REGIONS = [(name, region) for name in FLAVORS for region in REGION_SETS[name].first]

REGION_INDEX: dict[tuple[str, str], int] = {
    key: index
    for index, key in enumerate(dict.fromkeys([*_FIRST_REGIONS, *_EVERY_REGION]), start=1)
}
"""Index (from 1) of every region across the whole local cloud; fixes its public addresses. The
regions each flavor lists first come first (1..21, as when they were the only ones), then the
others flavor by flavor."""
