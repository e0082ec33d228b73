"""The CB-Tumblebug 0.3 API without a stack (httpx over ASGI, an in-memory cloud behind the
Spider connection `aws-r1`): status strings as Tumblebug words them; ids derived from names
(`NS_01` is `ns-01`, found written either way); namespaces, images and specs in Tumblebug's
shapes with its messages; specs and images checked against what the cloud offers; a
connection, spec or namespace that does not exist is a 404 with a message, and nothing
reaches Temporal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.spider import create_spider_app
from api.tumblebug.models import KeptMcis, KeptVm, VmReq
from api.tumblebug.status import McisShape, status_string
from catalog.entries import Region
from drivers.base import CloudDriver
from models.lifecycle import OperationKind, OperationRecord, OperationState
from models.mcis import McisView, VmView
from models.status import TargetAction, TargetStatus, VmStatus, aggregate
from settings import Settings, load_settings
from starter.context import Context
from starter.stack import isolated_env
from tests.api.conftest import CREDENTIALS, PASSWORD, USERNAME
from tests.fake_cloud import FakeCloud, FakeDriver

S = VmStatus
CONNECTION = "aws-r1"
SPEC = {"connectionName": CONNECTION, "name": "SPEC_01", "cspSpecName": "small"}
IMAGE = {
    "connectionName": CONNECTION,
    "name": "IMAGE_01",
    "cspImageId": "ubuntu",
    "cspImageName": "Ubuntu 22.04",
    "creationDate": "2020-12-01",
    "description": "registered with info",
    "guestOS": "Ubuntu",
    "status": "available",
    "keyValueList": [{"Key": "arch", "Value": "x86_64"}],
}


class FakeCloudContext(Context):
    """The in-memory cloud as `aws`; Temporal must not be asked for: nothing may start."""

    @cached_property
    def drivers(self) -> dict[str, CloudDriver]:
        return {"aws": FakeDriver("aws", FakeCloud())}

    async def client(self) -> Any:
        raise AssertionError("the request reached Temporal")


class ConnectionContext(FakeCloudContext):
    """No local cloud: the in-memory cloud is the mcis connection `ec2` (of aws)."""

    @cached_property
    def drivers(self) -> dict[str, CloudDriver]:
        return {"ec2": FakeDriver("ec2", FakeCloud())}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({**isolated_env(tmp_path, "mcis-tumblebug-unit"), **CREDENTIALS})


def client_of(app: FastAPI, base_url: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=base_url, auth=(USERNAME, PASSWORD))


@pytest.fixture
async def tb(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The Tumblebug API with the Spider connection `aws-r1` registered and `NS_01` made."""
    async for client in tumblebug_on(settings, FakeCloudContext(settings)):
        yield client


async def tumblebug_on(settings: Settings, ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(create_spider_app(settings), "http://spider") as spider:
        for path, body in (
            ("region", {"RegionName": "r1", "ProviderName": "AWS",
                        "KeyValueInfoList": [{"Key": "Region", "Value": "r1"},
                                             {"Key": "Zone", "Value": "r1a"}]}),
            ("connectionconfig", {"ConfigName": CONNECTION, "ProviderName": "AWS",
                                  "RegionName": "r1"}),
        ):  # fmt: skip
            assert (await spider.post(f"/spider/{path}", json=body)).status_code == 200
    async with client_of(create_app(settings, ctx), "http://api") as client:
        made = await client.post("/tumblebug/ns", json={"name": "NS_01", "description": "d"})
        assert made.status_code == 201, made.text
        yield client


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([S.RUNNING, S.RUNNING], "Running-(2/2)"),
        ([S.SUSPENDED] * 2, "Suspended-(2/2)"),
        ([S.RUNNING, S.RUNNING, S.SUSPENDING], "Partial-Running-(2/3)"),
        ([S.RUNNING, S.SUSPENDED], "Partial-Suspended-(1/2)"),  # a tie: Suspended comes first
        ([S.RUNNING, S.CREATING], "Partial-Running-(1/2)"),
        ([S.RUNNING, S.FAILED, S.UNDEFINED], "Failed-(1/3)"),
        ([S.RUNNING, S.RUNNING, S.UNDEFINED], "Include-NotDefinedStatus-(1/3)"),
        ([S.TERMINATED] * 3, "Terminated-(3/3)"),
    ],
)
def test_the_status_string_is_tumblebugs(statuses: list[VmStatus], expected: str) -> None:
    assert status_string(statuses) == expected


async def test_a_namespace_id_derives_from_its_name_and_finds_it_written_either_way(
    tb: httpx.AsyncClient,
) -> None:
    expected = {"id": "ns-01", "name": "NS_01", "description": "d"}
    for path in ("/tumblebug/ns/NS_01", "/tumblebug/ns/ns-01", "/tumblebug/ns/Ns_01"):
        answer = await tb.get(path)
        assert (answer.status_code, answer.json()) == (200, expected)
    assert (await tb.get("/tumblebug/ns")).json() == {"ns": [expected]}
    again = await tb.post("/tumblebug/ns", json={"name": "ns-01"})
    assert again.status_code == 409 and "already exists" in again.json()["message"]


async def test_a_namespace_is_deleted_with_tumblebugs_message(tb: httpx.AsyncClient) -> None:
    answer = await tb.delete("/tumblebug/ns/NS_01")
    assert (answer.status_code, answer.json()["message"]) == (200, "The ns has been deleted")
    gone = await tb.get("/tumblebug/ns/ns-01")
    assert gone.status_code == 404
    assert gone.json()["message"] == "The namespace ns-01 does not exist"


async def test_a_name_that_derives_no_valid_id_is_a_400(tb: httpx.AsyncClient) -> None:
    answer = await tb.post("/tumblebug/ns", json={"name": "NS 01!"})
    assert answer.status_code == 400
    assert "namespace id 'ns 01!' is invalid" in answer.json()["message"]


async def test_a_spec_registered_names_the_catalogs_and_shows_its_figures(
    tb: httpx.AsyncClient,
) -> None:
    answer = await tb.post("/tumblebug/ns/NS_01/resources/spec", json=SPEC)
    assert answer.status_code == 201, answer.text
    spec = answer.json()
    assert spec["id"] == "spec-01" and spec["name"] == "SPEC_01"
    assert spec["connectionName"] == CONNECTION and spec["cspSpecName"] == "small"
    assert (spec["num_vCPU"], spec["mem_GiB"], spec["mem_MiB"]) == (1, 1, 1024)
    assert spec["cost_per_hour"] == 0.01
    assert (await tb.get("/tumblebug/ns/ns-01/resources/spec/SPEC_01")).json() == spec
    assert (await tb.get("/tumblebug/ns/ns-01/resources/spec")).json() == {"spec": [spec]}


async def test_an_image_registered_with_info_echoes_it(tb: httpx.AsyncClient) -> None:
    path = "/tumblebug/ns/ns-01/resources/image?action=registerWithInfo"
    answer = await tb.post(path, json=IMAGE)
    assert answer.status_code == 201, answer.text
    assert answer.json() == {**IMAGE, "id": "image-01"}
    by_id = {"connectionName": CONNECTION, "name": "IMAGE_02", "cspImageId": "ubuntu"}
    answer = await tb.post("/tumblebug/ns/ns-01/resources/image?action=registerWithId", json=by_id)
    assert answer.status_code == 201, answer.text
    assert answer.json()["cspImageName"] == "ubuntu" and answer.json()["status"] == "Available"
    listed = (await tb.get("/tumblebug/ns/ns-01/resources/image")).json()["image"]
    assert [image["id"] for image in listed] == ["image-01", "image-02"]


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("spec", {**SPEC, "cspSpecName": "huge"}, 404, "AWS offers no spec 'huge' in r1"),
        ("image?action=registerWithId", {**IMAGE, "cspImageId": "win"}, 404, "no image 'win'"),
        ("image", IMAGE, 400, "action"),
        ("image?action=guess", IMAGE, 400, "action"),
        ("spec", {**SPEC, "connectionName": "gcp-x"}, 404, "POST /spider/connectionconfig"),
        ("spec", {"name": "SPEC_01"}, 400, "connectionName"),
    ],
)
async def test_a_bad_image_or_spec_is_refused_with_a_message(
    tb: httpx.AsyncClient, path: str, body: dict[str, Any], status: int, says: str
) -> None:
    answer = await tb.post(f"/tumblebug/ns/ns-01/resources/{path}", json=body)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["message"]


async def test_a_spec_is_deleted_with_its_message_and_a_namespace_holding_one_is_kept(
    tb: httpx.AsyncClient,
) -> None:
    await tb.post("/tumblebug/ns/ns-01/resources/spec", json=SPEC)
    refused = await tb.delete("/tumblebug/ns/ns-01")
    assert refused.status_code == 409 and "not empty" in refused.json()["message"]
    answer = await tb.delete("/tumblebug/ns/ns-01/resources/spec/SPEC_01")
    assert answer.json() == {"message": "The spec spec-01 has been deleted"}
    gone = await tb.get("/tumblebug/ns/ns-01/resources/spec/spec-01")
    assert (gone.status_code, gone.json()["message"]) == (404, "The spec spec-01 does not exist")


async def test_an_mcis_of_an_unregistered_spec_is_a_404_and_starts_nothing(
    tb: httpx.AsyncClient,
) -> None:
    vm = {
        "name": "VM_01",
        "connectionName": CONNECTION,
        "specId": "SPEC_09",
        "imageId": "IMAGE_01",
        "vNetId": "VNET_01",
        "securityGroupIds": ["SG_01"],
        "sshKeyId": "KEY_01",
    }
    answer = await tb.post("/tumblebug/ns/ns-01/mcis", json={"name": "MCIS_01", "vm": [vm]})
    assert answer.status_code == 404
    assert answer.json()["message"] == "The spec spec-09 does not exist"


async def test_an_unknown_namespace_is_a_404(tb: httpx.AsyncClient) -> None:
    for path in ("/tumblebug/ns/NS_02/mcis", "/tumblebug/ns/ns-02/resources/vNet"):
        answer = await tb.get(path)
        assert answer.status_code == 404
        assert answer.json()["message"] == "The namespace ns-02 does not exist"


async def test_requests_without_credentials_get_401(settings: Settings) -> None:
    transport = httpx.ASGITransport(app=create_app(settings, FakeCloudContext(settings)))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as anonymous:
        for path in ("/tumblebug/ns", "/tumblebug/ns/ns-01/mcis"):
            answer = await anonymous.get(path)
            assert answer.status_code == 401 and "message" in answer.json()


@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        (
            "vNet",
            {"name": "VNET_01", "connectionName": CONNECTION, "cidrBlock": "10.0.0.0/33"},
            "'10.0.0.0/33' is no IPv4 CIDR block",
        ),
        (
            "vNet",
            {
                "name": "VNET_01",
                "connectionName": CONNECTION,
                "subnetInfoList": [{"Name": "SUBNET_01", "IPv4_CIDR": "ten"}],
            },
            "'ten' is no IPv4 CIDR block",
        ),
        (
            "securityGroup",
            {
                "name": "SG_01",
                "connectionName": CONNECTION,
                "vNetId": "VNET_01",
                "firewallRules": [{"FromPort": "22", "ToPort": "22", "IPProtocol": "sctp"}],
            },
            "firewall rule protocol 'sctp'",
        ),
        (
            "securityGroup",
            {
                "name": "SG_01",
                "connectionName": CONNECTION,
                "vNetId": "VNET_01",
                "firewallRules": [{"FromPort": "ssh", "ToPort": "22", "IPProtocol": "tcp"}],
            },
            "port 'ssh' is no number",
        ),
        ("sshKey", {"name": "KEY_01"}, "connectionName"),
    ],
)
async def test_a_bad_network_resource_is_a_400_and_starts_nothing(
    tb: httpx.AsyncClient, path: str, body: dict[str, Any], says: str
) -> None:
    answer = await tb.post(f"/tumblebug/ns/ns-01/resources/{path}", json=body)
    assert answer.status_code == 400, answer.text
    assert says in answer.json()["message"]


async def test_an_unknown_network_resource_or_mcis_is_a_404(tb: httpx.AsyncClient) -> None:
    for path, says in (
        ("resources/vNet/VNET_01", "The vNet vnet-01 does not exist"),
        ("resources/securityGroup/sg-01", "The securityGroup sg-01 does not exist"),
        ("resources/sshKey/KEY_01", "The sshKey key-01 does not exist"),
        ("mcis/MCIS_01", "The MCIS mcis-01 does not exist"),
    ):
        for answer in (await tb.get(f"/tumblebug/ns/ns-01/{path}"),
                       await tb.delete(f"/tumblebug/ns/ns-01/{path}")):  # fmt: skip
            assert (answer.status_code, answer.json()["message"]) == (404, says)


def test_an_mcis_in_tumblebugs_shapes_names_each_vm_by_its_entry() -> None:
    def vm(name: str, status: VmStatus, ip: str) -> VmView:
        return VmView(
            id=name,
            group=name.rpartition("-")[0],
            status=status,
            native_status=status.value.lower(),
            provider="aws",
            region="r1",
            spec="aws+r1+small",
            image="aws+r1+ubuntu",
            public_ip=ip,
            csp_id=f"i-{name}",
        )

    vms = [vm("vm-01-1", S.SUSPENDED, "10.0.0.1"), vm("vm-02-1", S.SUSPENDING, "10.0.0.2")]
    status = aggregate(
        [(v.id, v.status) for v in vms], TargetAction.SUSPEND, TargetStatus.SUSPENDED
    )
    suspend = OperationRecord(
        id=2, kind=OperationKind.SUSPEND, scope="mcis", state=OperationState.RUNNING
    )
    view = McisView.build("ns-01", "mcis-01", "uid", "two", "active", status, vms, suspend)
    entry = {
        "name": "VM_01",
        "connectionName": CONNECTION,
        "specId": "SPEC_01",
        "imageId": "IMAGE_01",
        "vNetId": "VNET_01",
        "securityGroupIds": ["SG_01"],
        "sshKeyId": "KEY_01",
    }
    kept = KeptMcis(
        name="MCIS_01", vm={"vm-01": KeptVm(entry=VmReq(**entry), cloudType="aws", zone="r1a")}
    )
    region = Region(provider="aws", name="r1", display_name="Here", latitude=1.5, longitude=2.5)
    shape = McisShape(view, kept, {("aws", "r1"): region})

    info = shape.info()
    assert (info.id, info.name, info.status) == ("mcis-01", "MCIS_01", "Partial-Suspended-(1/2)")
    assert (info.targetAction, info.targetStatus) == ("Suspend", "Suspended")
    first, second = info.vm
    assert (first.id, first.name, first.specId, first.connectionName) == (
        "vm-01",
        "VM_01",
        "SPEC_01",
        CONNECTION,
    )
    assert (first.targetAction, first.targetStatus) == ("None", "None")  # already there
    assert first.region.model_dump() == {"Region": "r1", "Zone": "r1a"}
    assert first.location.model_dump() == {
        "latitude": 1.5,
        "longitude": 2.5,
        "briefAddr": "Here",
        "cloudType": "aws",
        "nativeRegion": "r1",
    }
    assert (second.id, second.name, second.specId) == ("vm-02", "vm-02-1", "aws+r1+small")
    assert (second.targetAction, second.targetStatus) == ("Suspend", "Suspended")

    status_info = shape.status_info()
    assert status_info.masterVmId == "" and status_info.masterIp == ""  # no VM runs

    # mcis keeps a target once the operation is over: Tumblebug shows none
    done = view.model_copy(update={"operation": None})
    over = McisShape(done, kept, {}).info()
    assert {(over.targetAction, vm.targetAction) for vm in over.vm} == {("None", "None")}
    # an operation on the first VM (there already): the second, suspending, is not its target
    on_one = suspend.model_copy(update={"scope": "vm vm-01-1"})
    one = McisShape(view.model_copy(update={"operation": on_one}), kept, {}).info()
    assert [vm.targetAction for vm in one.vm] == ["None", "None"]
    assert [(v.id, v.csp_vm_id, v.native_status) for v in status_info.vm] == [
        ("vm-01", "i-vm-01-1", "suspended"),
        ("vm-02", "i-vm-02-1", "suspending"),
    ]


async def test_a_connection_config_leads_to_an_mcis_connection_of_its_cloud(
    settings: Settings,
) -> None:
    path = settings.connections_file
    path.write_text(
        "connections:\n"
        "  - {name: ec2, cloud: aws, regions: [r1],\n"
        "     credentials: {access_key_id: a, secret_access_key: b}}\n"
    )
    path.chmod(0o600)
    async for tb in tumblebug_on(settings, ConnectionContext(settings)):
        answer = await tb.post("/tumblebug/ns/ns-01/resources/spec", json=SPEC)
        assert answer.status_code == 201, answer.text
        path.write_text("connections: []\n")
        refused = await tb.post("/tumblebug/ns/ns-01/resources/spec", json={**SPEC, "name": "S2"})
        assert refused.status_code == 400
        assert "mcis reaches no AWS cloud in r1" in refused.json()["message"]
