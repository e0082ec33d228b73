"""The size limits of an MCIS (`models/mcis.py`) and the VM rows users see of it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from models.mcis import MAX_VMS_PER_GROUP, MAX_VMS_PER_MCIS, McisRequest, VmView
from models.records import VmRecord
from models.status import VmStatus

SPEC, IMAGE = "aws+us-east-1+t3.small", "aws+us-east-1+ubuntu-jammy-22.04-amd64-server"


def request(*counts: int) -> dict[str, Any]:
    groups = [
        {"name": f"g{i}", "spec": SPEC, "image": IMAGE, "count": n}
        for i, n in enumerate(counts, start=1)
    ]
    return {"name": "web", "groups": groups}


def test_one_mcis_and_one_group_hold_ten_thousand_vms() -> None:
    assert MAX_VMS_PER_MCIS == MAX_VMS_PER_GROUP == 10_000
    assert McisRequest.model_validate(request(10_000)).groups[0].count == 10_000
    assert len(McisRequest.model_validate(request(*[200] * 50)).groups) == 50  # 50 regions


def test_a_group_over_the_limit_is_refused() -> None:
    with pytest.raises(ValidationError, match="less than or equal to 10000"):
        McisRequest.model_validate(request(10_001))


def test_groups_adding_up_over_the_limit_are_refused() -> None:
    with pytest.raises(ValidationError, match="10001 VMs requested; one MCIS holds at most 10000"):
        McisRequest.model_validate(request(5_000, 5_001))


def test_the_view_of_a_vm_record_shows_what_users_read() -> None:
    record = VmRecord(
        namespace="dev",
        mcis="web",
        name="g1-7",
        group="g1",
        provider="aws",
        region="us-east-1",
        spec=SPEC,
        image=IMAGE,
        client_token="tok-secret-ish",
        serial=7,
        csp_id="i-0abc",
        status=VmStatus.FAILED,
        native_status="stopped",
        public_ip="203.0.113.7",
        private_ip="10.0.0.7",
        error="boom",
        vnet="shared-aws-us-east-1",
        updated_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    assert VmView.of(record).model_dump() == {
        "id": "g1-7",
        "group": "g1",
        "status": VmStatus.FAILED,
        "native_status": "stopped",
        "provider": "aws",
        "region": "us-east-1",
        "spec": SPEC,
        "image": IMAGE,
        "public_ip": "203.0.113.7",
        "private_ip": "10.0.0.7",
        "csp_id": "i-0abc",
        "error": "boom",
    }
