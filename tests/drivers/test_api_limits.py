"""Requests a cloud's real API refuses though Libcloud's recorded answers accept them: what the
contract suite found the drivers send, checked against the limits each API documents. Each
test is xfail(strict=True) naming the driver bug until drivers/ fixes it."""

from __future__ import annotations

import uuid

import pytest

from models.cloud import DEFAULT_RULES
from models.naming import NAME_MAX_LENGTH, vm_client_token, vm_tags
from tests.drivers.clouds import ALIBABA, OPENSTACK
from tests.drivers.conftest import Cloud

ECS_DESCRIPTION_MAX = 256
"""ECS CreateInstance: Description is 2 to 256 characters (else InvalidDescription.Malformed)."""


@pytest.mark.parametrize("cloud", [ALIBABA], indirect=True, ids=str)
async def test_an_alibaba_vm_of_long_names_fits_the_ecs_description(cloud: Cloud) -> None:
    longest = "n" * NAME_MAX_LENGTH
    uid = str(uuid.UUID(int=1))
    tags = vm_tags(longest, longest, uid, longest, f"{longest}-1", serial=1)
    token = vm_client_token(longest, longest, uid, f"{longest}-1", serial=1)
    request = cloud.case.vm_request().model_copy(update={"tags": tags, "client_token": token})
    await cloud.driver.create_vm(cloud.case.region, request)
    [create] = cloud.mock.sent(cloud.case.create_pattern)
    assert len(create.params["Description"]) <= ECS_DESCRIPTION_MAX


@pytest.mark.parametrize("cloud", [OPENSTACK], indirect=True, ids=str)
async def test_neutron_rules_carry_port_ranges_neutron_accepts(cloud: Cloud) -> None:
    case = cloud.case
    await cloud.driver.ensure_security_group(case.region, "lcfirewall", "", DEFAULT_RULES, {})
    assert case.sent_rules is not None
    assert ("icmp", None, None) in case.sent_rules(cloud.mock)
