"""Every native status the local cloud reports maps to the canonical status a user expects,
and every flavor offers a usable catalog."""

from __future__ import annotations

import pytest

from drivers.localcloud import LOCAL_FLAVORS
from drivers.status_map import SUPPORTED_PROVIDERS, to_canonical
from localcloud.engine import ACTIONS, REGION_STRIDE
from localcloud.flavors import FLAVORS, REGION_INDEX, Flavor, Phase, native_status, price
from models.status import TargetAction, VmStatus

A, S, P = TargetAction, VmStatus, Phase

EXPECTED: dict[Phase, tuple[TargetAction, VmStatus]] = {
    P.CREATING: (A.CREATE, S.CREATING),
    P.RUNNING: (A.NONE, S.RUNNING),
    P.SUSPENDING: (A.SUSPEND, S.SUSPENDING),
    P.SUSPENDED: (A.NONE, S.SUSPENDED),
    P.RESUMING: (A.RESUME, S.RESUMING),
    P.REBOOTING: (A.REBOOT, S.REBOOTING),
    P.TERMINATING: (A.TERMINATE, S.TERMINATING),
    P.TERMINATED: (A.NONE, S.TERMINATED),
    P.FAILED: (A.CREATE, S.FAILED),
}

PROGRESS = [i / 20 for i in range(20)]
# Phases a VM can be terminated from (the OpenStack terminating status depends on it).
TERMINATE_FROM = sorted(ACTIONS["terminate"].allowed_from)


@pytest.mark.parametrize("flavor", FLAVORS.values(), ids=list(FLAVORS))
@pytest.mark.parametrize("phase", list(Phase))
def test_native_status_maps_to_canonical_status(flavor: Flavor, phase: Phase) -> None:
    action, expected = EXPECTED[phase]
    reason = flavor.failure_reason if phase is P.FAILED else None
    entered_from = TERMINATE_FROM if phase is P.TERMINATING else [P.RUNNING]
    for from_phase in entered_from:
        for progress in PROGRESS:
            native = native_status(flavor, phase, progress, from_phase)
            got = to_canonical(flavor.name, native, action, reason)
            assert got is expected, (
                f"{flavor.name} {phase} at {progress:.0%} (from {from_phase}) reports "
                f"{native!r}, mapped to {got} instead of {expected}"
            )


def test_gcp_reports_provisioning_then_staging_while_creating() -> None:
    seen = [native_status(FLAVORS["gcp"], P.CREATING, p, None) for p in (0.0, 0.39, 0.4, 0.9)]
    assert seen == ["PROVISIONING", "PROVISIONING", "STAGING", "STAGING"]


def test_gcp_reboot_is_a_stop_and_start() -> None:
    seen = [native_status(FLAVORS["gcp"], P.REBOOTING, p, P.RUNNING) for p in PROGRESS]
    assert list(dict.fromkeys(seen)) == ["STOPPING", "TERMINATED", "STAGING"]


def test_openstack_terminating_keeps_the_status_it_had() -> None:
    openstack = FLAVORS["openstack"]
    assert native_status(openstack, P.TERMINATING, 0.5, P.RUNNING) == "ACTIVE"
    assert native_status(openstack, P.TERMINATING, 0.5, P.SUSPENDED) == "SHUTOFF"
    assert native_status(openstack, P.TERMINATING, 0.5, P.FAILED) == "SHUTOFF"


def test_only_aws_and_alibaba_keep_terminated_vms_listable() -> None:
    kept = {name for name, flavor in FLAVORS.items() if flavor.keeps_terminated}
    assert kept == {"aws", "alibaba"}
    assert native_status(FLAVORS["gcp"], P.TERMINATED, 0.0, P.TERMINATING) is None


@pytest.mark.parametrize("flavor", FLAVORS.values(), ids=list(FLAVORS))
def test_flavor_has_regions_specs_and_images(flavor: Flavor) -> None:
    assert len(flavor.regions) >= 3
    for region in flavor.regions:
        assert -90 <= region.latitude <= 90 and -180 <= region.longitude <= 180
        assert (region.latitude, region.longitude) != (0, 0)
    assert 6 <= len(flavor.specs) <= 12
    assert all(s.vcpus > 0 and s.memory_gib > 0 and s.base_price > 0 for s in flavor.specs)
    assert len({price(flavor.specs[0], r) for r in flavor.regions}) > 1, "prices vary by region"
    assert {i.os for i in flavor.images} >= {"Ubuntu 22.04", "Ubuntu 20.04", "Debian 12"}
    timings = flavor.timings
    assert 10 <= timings.boot_s <= 300
    assert min(timings.stop_s, timings.start_s, timings.reboot_s, timings.terminate_s) > 0


def test_flavor_names_are_the_supported_providers_and_the_drivers_flavors() -> None:
    assert set(FLAVORS) == set(SUPPORTED_PROVIDERS) == set(LOCAL_FLAVORS)


def test_every_region_has_its_own_public_address_block() -> None:
    indexes = list(REGION_INDEX.values())
    assert len(set(indexes)) == len(indexes) == sum(len(f.regions) for f in FLAVORS.values())
    assert min(indexes) > 0 and max(indexes) < REGION_STRIDE
