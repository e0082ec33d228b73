"""Native state of each cloud -> canonical status, per the seed's table: per cloud, never by
string alone, with self-made states derived from the action in flight."""

from __future__ import annotations

import pytest

from drivers.status_map import NATIVE_STATUS, to_canonical
from models.status import TargetAction, VmStatus

A, S = TargetAction, VmStatus

SEED_TABLE = [
    # (cloud, native, action in flight, canonical)
    ("aws", "pending", A.CREATE, S.CREATING),
    ("aws", "running", A.NONE, S.RUNNING),
    ("aws", "stopping", A.SUSPEND, S.SUSPENDING),
    ("aws", "stopped", A.NONE, S.SUSPENDED),
    ("aws", "pending", A.RESUME, S.RESUMING),  # self-made
    ("aws", "rebooting", A.REBOOT, S.REBOOTING),
    ("aws", "shutting-down", A.TERMINATE, S.TERMINATING),
    ("aws", "terminated", A.NONE, S.TERMINATED),
    ("gcp", "PROVISIONING", A.CREATE, S.CREATING),
    ("gcp", "STAGING", A.CREATE, S.CREATING),
    ("gcp", "RUNNING", A.NONE, S.RUNNING),
    ("gcp", "STOPPING", A.SUSPEND, S.SUSPENDING),
    ("gcp", "TERMINATED", A.NONE, S.SUSPENDED),  # GCP's TERMINATED is a stopped VM
    ("gcp", "STAGING", A.RESUME, S.RESUMING),
    ("gcp", "STOPPING", A.REBOOT, S.REBOOTING),  # reboot is stop+start
    ("gcp", "TERMINATED", A.REBOOT, S.REBOOTING),
    ("gcp", "STOPPING", A.TERMINATE, S.TERMINATING),
    ("azure", "starting", A.CREATE, S.CREATING),
    ("azure", "running", A.NONE, S.RUNNING),
    ("azure", "deallocating", A.SUSPEND, S.SUSPENDING),
    ("azure", "deallocated", A.NONE, S.SUSPENDED),
    ("azure", "stopped", A.NONE, S.SUSPENDED),
    ("azure", "starting", A.RESUME, S.RESUMING),
    ("azure", "starting", A.REBOOT, S.REBOOTING),
    ("azure", "deleting", A.TERMINATE, S.TERMINATING),
    ("azure", "failed", A.NONE, S.FAILED),
    ("alibaba", "Pending", A.CREATE, S.CREATING),
    ("alibaba", "Running", A.NONE, S.RUNNING),
    ("alibaba", "Stopping", A.SUSPEND, S.SUSPENDING),
    ("alibaba", "Stopped", A.NONE, S.SUSPENDED),
    ("alibaba", "Starting", A.RESUME, S.RESUMING),
    ("alibaba", "Stopping", A.TERMINATE, S.TERMINATING),
    ("alibaba", "Deleted", A.NONE, S.TERMINATED),
    ("openstack", "BUILD", A.CREATE, S.CREATING),
    ("openstack", "ACTIVE", A.NONE, S.RUNNING),
    ("openstack", "ACTIVE", A.SUSPEND, S.SUSPENDING),  # self-made
    ("openstack", "SHUTOFF", A.NONE, S.SUSPENDED),
    ("openstack", "SHUTOFF", A.RESUME, S.RESUMING),  # self-made
    ("openstack", "REBOOT", A.REBOOT, S.REBOOTING),
    ("openstack", "ACTIVE", A.TERMINATE, S.TERMINATING),  # self-made
    ("openstack", "ERROR", A.NONE, S.FAILED),
    ("cloudit", "CREATING", A.CREATE, S.CREATING),
    ("cloudit", "RUNNING", A.NONE, S.RUNNING),
    ("cloudit", "STOPPING", A.SUSPEND, S.SUSPENDING),
    ("cloudit", "STOPPED", A.NONE, S.SUSPENDED),
    ("cloudit", "STARTING", A.RESUME, S.RESUMING),
    ("cloudit", "REBOOTING", A.REBOOT, S.REBOOTING),
    ("cloudit", "DESTROYING", A.TERMINATE, S.TERMINATING),
    ("cloudit", "FAILED", A.NONE, S.FAILED),
]


@pytest.mark.parametrize(("cloud", "native", "action", "canonical"), SEED_TABLE)
def test_seed_table(cloud: str, native: str, action: TargetAction, canonical: VmStatus) -> None:
    assert to_canonical(cloud, native, action) is canonical


def test_the_same_string_means_different_things_per_cloud() -> None:
    assert to_canonical("gcp", "TERMINATED") is S.SUSPENDED
    assert to_canonical("aws", "terminated") is S.TERMINATED


@pytest.mark.parametrize("cloud", sorted(NATIVE_STATUS))
def test_a_vm_the_cloud_no_longer_knows_is_terminated(cloud: str) -> None:
    assert to_canonical(cloud, None, A.TERMINATE) is S.TERMINATED


def test_a_failure_reason_makes_a_down_vm_failed() -> None:
    assert to_canonical("aws", "terminated", A.CREATE, "Server.InternalError") is S.FAILED
    assert to_canonical("gcp", "TERMINATED", A.CREATE, "host error") is S.FAILED
    assert to_canonical("aws", "running", A.NONE, "old reason") is S.RUNNING


def test_unknown_cloud_or_state_is_undefined_never_an_exception() -> None:
    assert to_canonical("nocloud", "running") is S.UNDEFINED
    assert to_canonical("aws", "RUNNING") is S.UNDEFINED  # case matters: it is aws's own word
