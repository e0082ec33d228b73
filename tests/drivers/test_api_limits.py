"""Requests a cloud's real API refuses though Libcloud's recorded answers accept them: what the
contract suite found the drivers send (issue #14), checked against the limits each API
documents: ECS's Description and tags, Neutron's rule ports, each cloud's VM names."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from drivers.connection import CloudKind
from drivers.libcloud_base import LibcloudDriver
from drivers.registry import driver_class
from models.cloud import DEFAULT_RULES, VmCreateRequest
from models.naming import NAME_MAX_LENGTH, cloud_vm_name, vm_client_token, vm_tags
from tests.drivers.clouds import ALIBABA, GCE_ZONE, GCP, OPENSTACK, CloudCase
from tests.drivers.conftest import Cloud
from tests.drivers.libcloud_mocks import Route, theirs

ECS_DESCRIPTION_MAX = 256
"""ECS CreateInstance: Description is 2 to 256 characters (else InvalidDescription.Malformed)."""
ECS_TAGS_MAX, ECS_TAG_TEXT_MAX = 20, 128
"""ECS: at most 20 tags on an instance, a tag key or value at most 128 characters."""
VM_NAMES: dict[CloudKind, tuple[int, str]] = {
    "gcp": (63, r"[a-z]([-a-z0-9]*[a-z0-9])?"),
    "azure": (64, r"[a-zA-Z0-9][-a-zA-Z0-9_.]*[a-zA-Z0-9_]"),
    "alibaba": (128, r"[a-zA-Z][-a-zA-Z0-9_.:]+"),
    "openstack": (255, r".+"),
}
"""Each cloud's VM name rule: its longest name, and its pattern (GCE's RFC 1035 names, Azure's
Linux VM names, ECS's InstanceName; Nova takes any 1 to 255 characters)."""

LONGEST = "n" * NAME_MAX_LENGTH
UID = str(uuid.UUID(int=1))


def longest_request(case: CloudCase, serial: int = 1) -> VmCreateRequest:
    """The contract's VM in an MCIS whose namespace, MCIS and group names are mcis's longest."""
    vm = f"{LONGEST}-{serial}"
    return case.vm_request().model_copy(
        update={
            "name": cloud_vm_name(LONGEST, LONGEST, vm),
            "tags": vm_tags(LONGEST, LONGEST, UID, LONGEST, vm, serial=serial),
            "client_token": vm_client_token(LONGEST, LONGEST, UID, vm, serial=serial),
        }
    )


@pytest.mark.parametrize("cloud", [ALIBABA], indirect=True, ids=str)
async def test_an_alibaba_vm_of_long_names_fits_the_ecs_description(cloud: Cloud) -> None:
    request = longest_request(cloud.case)
    await cloud.driver.create_vm(cloud.case.region, request)
    [create] = cloud.mock.sent(cloud.case.create_pattern)
    assert len(create.params["Description"]) <= ECS_DESCRIPTION_MAX
    sent = cloud.case.sent_tags(create)
    assert sent.items() >= {**request.tags, "mcis-client-token": request.client_token}.items()
    tags = {k: v for k, v in sent.items() if k != "ClientToken"}
    assert len(tags) <= ECS_TAGS_MAX
    assert all(len(text) <= ECS_TAG_TEXT_MAX for item in tags.items() for text in item)


@pytest.mark.parametrize("cloud_kind", sorted(VM_NAMES))
def test_a_vm_of_the_longest_names_gets_a_name_its_cloud_accepts(cloud_kind: CloudKind) -> None:
    cls = driver_class(cloud_kind)
    assert issubclass(cls, LibcloudDriver)
    most, pattern = VM_NAMES[cloud_kind]
    first, second = longest_request(GCP, serial=1), longest_request(GCP, serial=2)
    name = cls.cloud_name(first)
    assert len(name) <= most and re.fullmatch(pattern, name)
    assert cls.cloud_name(first) == name  # the same VM: the same name
    assert cls.cloud_name(second) != name  # another VM (token): another name
    short = GCP.vm_request()
    assert cls.cloud_name(short) == short.name  # a name that fits is kept


@pytest.mark.parametrize("cloud", [GCP], indirect=True, ids=str)
async def test_gce_is_asked_for_a_vm_name_of_at_most_63_characters(cloud: Cloud) -> None:
    # The recorded instance answers the read of the new VM, whatever its name.
    cloud.mock.routes = (
        Route(
            rf"GET \S*{GCE_ZONE}/instances/n{{20}}",
            theirs("gce/zones_us-central1-a_instances_node-name.json"),
        ),
        *cloud.mock.routes,
    )
    await cloud.driver.create_vm(GCP.region, longest_request(GCP))
    [create] = cloud.mock.sent(GCP.create_pattern)
    sent = json.loads(create.body)["name"]
    assert len(sent) <= VM_NAMES["gcp"][0] and sent.startswith(LONGEST)


@pytest.mark.parametrize("cloud", [OPENSTACK], indirect=True, ids=str)
async def test_neutron_rules_carry_port_ranges_neutron_accepts(cloud: Cloud) -> None:
    case = cloud.case
    await cloud.driver.ensure_security_group(case.region, "lcfirewall", "", DEFAULT_RULES, {})
    assert case.sent_rules is not None
    assert ("icmp", None, None) in case.sent_rules(cloud.mock)
