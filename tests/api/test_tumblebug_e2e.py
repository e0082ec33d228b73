"""A CB-Tumblebug 0.3 client's scenario over HTTP only, on real VMs of the local cloud (network
namespaces, sshd): a Spider connection registered on the Spider port; namespace `NS_01`; vNet,
security group, SSH key, image registered with info and spec; an MCIS of 2 VMs, one `vm` entry
each; `?action=status` is `Running-(2/2)`; suspend polled to `Suspended-(2/2)`; resume; a remote
command whose `result_array` holds both VMs' hostnames (then one VM's); one more VM added,
suspended alone and removed; terminate; the MCIS and every resource deleted with Tumblebug's
messages, and no VM left at the cloud."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from starter.stack import api_url, isolated_env
from tests.api.conftest import CREDENTIALS, PASSWORD, USERNAME
from tests.e2e.conftest import E2E, MISSING_FOR_REAL_VMS, running_stack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.realvm,
    pytest.mark.skipif(
        MISSING_FOR_REAL_VMS is not None,
        reason=f"real VMs need root and tools: {MISSING_FOR_REAL_VMS}",
    ),
]

CONNECTION = "aws-us-east-1"
NS = "/tumblebug/ns/NS_01"
MCIS = f"{NS}/mcis/MCIS_01"
CMD = f"{NS}/cmd/mcis/MCIS_01"
SPIDER_REGISTRATIONS = (
    ("driver", {"DriverName": "aws-driver01", "ProviderName": "AWS",
                "DriverLibFileName": "aws-driver-v1.0.so"}),
    ("credential", {"CredentialName": "aws-credential01", "ProviderName": "AWS",
                    "KeyValueInfoList": [{"Key": "ClientId", "Value": "id"},
                                         {"Key": "ClientSecret", "Value": "secret"}]}),
    ("region", {"RegionName": "aws-us-east-1", "ProviderName": "AWS",
                "KeyValueInfoList": [{"Key": "Region", "Value": "us-east-1"},
                                     {"Key": "Zone", "Value": "us-east-1a"}]}),
    ("connectionconfig", {"ConfigName": CONNECTION, "ProviderName": "AWS",
                          "DriverName": "aws-driver01", "CredentialName": "aws-credential01",
                          "RegionName": "aws-us-east-1"}),
)  # fmt: skip


@dataclass
class Clients:
    stack: E2E
    tumblebug: httpx.Client
    spider: httpx.Client

    def poll_status(self, expected: str, timeout: float = 120) -> dict[str, Any]:
        """`?action=status` until the MCIS status is `expected` and nothing is pending."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.tumblebug.get(MCIS, params={"action": "status"}).json()["status"]
            if status["status"] == expected and status["targetAction"] == "None":
                return dict(status)
            assert time.monotonic() < deadline, status
            time.sleep(0.3)


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clients]:
    """A stack whose local cloud runs real VMs, with its API and Spider servers; every VM is
    destroyed at the end (real VMs outlive their cloud process)."""
    home = tmp_path_factory.mktemp("mcis-tumblebug")
    env = {
        **os.environ,
        **isolated_env(home, "mcis-tumblebug", 0.05, backend="netns"),
        **CREDENTIALS,
    }
    with running_stack(env) as stack:
        settings = stack.settings
        spider_url = api_url(settings).rsplit(":", 1)[0] + f":{settings.spider_port}"
        try:
            assert stack.cloud("/healthz")["backend"] == "netns"
            with (
                httpx.Client(base_url=api_url(settings), **_client()) as tumblebug,
                httpx.Client(base_url=spider_url, **_client()) as spider,
            ):
                yield Clients(stack, tumblebug, spider)
        finally:
            with contextlib.suppress(httpx.HTTPError):
                url = f"{settings.localcloud_url}/admin/reset"
                httpx.post(url, timeout=60, trust_env=False)


def _client() -> dict[str, Any]:
    return {"auth": (USERNAME, PASSWORD), "timeout": 300, "trust_env": False}


def created(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def vm_entry(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "connectionName": CONNECTION,
        "specId": "SPEC_01",
        "imageId": "IMAGE_01",
        "vNetId": "VNET_01",
        "subnetId": "SUBNET_01",
        "securityGroupIds": ["SG_01"],
        "sshKeyId": "KEY_01",
        "vmUserAccount": "cb-user",
        "description": f"{name} of the scenario",
    }


def test_a_tumblebug_client_runs_its_scenario_on_real_vms(clients: Clients) -> None:
    tb, spider = clients.tumblebug, clients.spider
    for kind, body in SPIDER_REGISTRATIONS:
        answer = spider.post(f"/spider/{kind}", json=body)
        assert answer.status_code == 200, answer.text

    assert (
        created(tb.post("/tumblebug/ns", json={"name": "NS_01", "description": "e2e"}))["id"]
        == "ns-01"
    )
    vnet = created(
        tb.post(
            f"{NS}/resources/vNet",
            json={
                "name": "VNET_01",
                "connectionName": CONNECTION,
                "cidrBlock": "192.168.0.0/16",
                "subnetInfoList": [{"Name": "SUBNET_01", "IPv4_CIDR": "192.168.1.0/24"}],
            },
        )
    )
    assert (vnet["id"], vnet["cidrBlock"]) == ("vnet-01", "192.168.0.0/16")
    rules = [
        {"FromPort": "1", "ToPort": "65535", "IPProtocol": "tcp", "Direction": "inbound"},
        {"FromPort": "-1", "ToPort": "-1", "IPProtocol": "icmp", "Direction": "inbound"},
    ]
    group = created(
        tb.post(
            f"{NS}/resources/securityGroup",
            json={
                "name": "SG_01",
                "connectionName": CONNECTION,
                "vNetId": "VNET_01",
                "description": "all tcp and ping",
                "firewallRules": rules,
            },
        )
    )
    assert (group["id"], group["vNetId"], group["firewallRules"]) == ("sg-01", "vnet-01", rules)
    key = created(
        tb.post(
            f"{NS}/resources/sshKey",
            json={"name": "KEY_01", "connectionName": CONNECTION, "username": "cb-user"},
        )
    )
    assert key["id"] == "key-01" and "PRIVATE KEY" in key["privateKey"]
    image = created(
        tb.post(
            f"{NS}/resources/image",
            params={"action": "registerWithInfo"},
            json={
                "connectionName": CONNECTION,
                "name": "IMAGE_01",
                "cspImageId": "ubuntu-jammy-22.04-amd64-server",
                "cspImageName": "Ubuntu 22.04",
                "guestOS": "Ubuntu",
                "description": "registered with info",
            },
        )
    )
    assert (image["id"], image["guestOS"]) == ("image-01", "Ubuntu")
    spec = created(
        tb.post(
            f"{NS}/resources/spec",
            json={"connectionName": CONNECTION, "name": "SPEC_01", "cspSpecName": "t3.small"},
        )
    )
    assert (spec["id"], spec["num_vCPU"]) == ("spec-01", 2)

    mcis = created(
        tb.post(
            f"{NS}/mcis",
            json={
                "name": "MCIS_01",
                "description": "two VMs",
                "vm": [vm_entry("VM_01"), vm_entry("VM_02")],
            },
        )
    )
    assert (mcis["id"], mcis["name"], mcis["status"]) == ("mcis-01", "MCIS_01", "Running-(2/2)")
    vms = {vm["id"]: vm for vm in mcis["vm"]}
    assert sorted(vms) == ["vm-01", "vm-02"]
    for vm in vms.values():
        assert vm["status"] == "Running" and vm["publicIP"]
        assert (vm["specId"], vm["connectionName"]) == ("SPEC_01", CONNECTION)
        assert vm["location"]["nativeRegion"] == "us-east-1"
        assert vm["location"]["cloudType"] == "aws"
        assert vm["region"] == {"Region": "us-east-1", "Zone": "us-east-1a"}

    status = tb.get(MCIS, params={"action": "status"}).json()["status"]
    assert (status["status"], status["targetAction"], status["targetStatus"]) == (
        "Running-(2/2)",
        "None",
        "None",
    )
    assert status["masterVmId"] in vms and status["masterIp"]

    for kind in ("vNet/VNET_01", "securityGroup/SG_01", "sshKey/KEY_01", "spec/SPEC_01"):
        in_use = tb.delete(f"{NS}/resources/{kind}")
        assert in_use.status_code == 409 and "dependency" in in_use.json()["message"], kind

    answer = tb.get(MCIS, params={"action": "suspend"})
    assert answer.json() == {"message": "Suspending the MCIS"}
    clients.poll_status("Suspended-(2/2)")
    refused = tb.get(MCIS, params={"action": "reboot"})
    assert refused.status_code == 409
    assert refused.json()["message"] == "Reboot is not allowed for Suspended-(2/2) MCIS"
    assert tb.get(MCIS, params={"action": "resume"}).json() == {"message": "Resuming the MCIS"}
    clients.poll_status("Running-(2/2)")

    answer = tb.post("/tumblebug/ns/NS_01/cmd/mcis/MCIS_01", json={"command": "hostname"})
    assert answer.status_code == 200, answer.text
    results = {r["vm_id"]: r for r in answer.json()["result_array"]}
    assert sorted(results) == ["vm-01", "vm-02"]
    for vm_id, result in results.items():
        assert result["mcis_id"] == "mcis-01"
        assert result["vm_ip"] == vms[vm_id]["publicIP"]
        assert result["result"].strip() == f"ns-01-mcis-01-{vm_id}-1"

    answer = tb.post(f"{CMD}/vm/VM_02", json={"command": "hostname"})
    assert [(r["vm_id"], r["result"].strip()) for r in answer.json()["result_array"]] == [
        ("vm-02", "ns-01-mcis-01-vm-02-1")
    ]

    added = created(tb.post(f"{MCIS}/vm", json=vm_entry("VM_03")))
    assert (added["id"], added["name"], added["status"]) == ("vm-03", "VM_03", "Running")
    listed = tb.get(f"{NS}/mcis", params={"option": "status"}).json()["mcis"]
    assert [(m["id"], m["status"], len(m["vm"])) for m in listed] == [
        ("mcis-01", "Running-(3/3)", 3)
    ]
    answer = tb.get(f"{MCIS}/vm/VM_03", params={"action": "suspend"})
    assert answer.json() == {"message": "Suspending the VM"}
    clients.poll_status("Partial-Running-(2/3)")
    vm = tb.get(f"{MCIS}/vm/vm-03", params={"action": "status"}).json()
    assert (vm["id"], vm["status"], vm["targetAction"]) == ("vm-03", "Suspended", "None")
    assert tb.delete(f"{MCIS}/vm/VM_03").json() == {"message": "Deleting the VM info"}
    assert tb.get(f"{MCIS}/vm/VM_03").status_code == 404

    answer = tb.get(MCIS, params={"action": "terminate"})
    assert answer.json() == {"message": "Terminating the MCIS"}
    clients.poll_status("Terminated-(2/2)")
    assert tb.get(MCIS, params={"action": "terminate"}).json() == {
        "message": "No VM to terminate in the MCIS"
    }
    assert tb.delete(MCIS).json() == {"message": "Deleting the MCIS info"}
    assert tb.get(MCIS).status_code == 404

    for kind, id in (
        ("sshKey", "key-01"),
        ("securityGroup", "sg-01"),
        ("vNet", "vnet-01"),
        ("image", "image-01"),
        ("spec", "spec-01"),
    ):
        answer = tb.delete(f"{NS}/resources/{kind}/{id.upper().replace('-', '_')}")
        assert answer.json() == {"message": f"The {kind} {id} has been deleted"}, answer.text
    assert tb.delete(NS).json() == {"message": "The ns has been deleted"}

    doctor = clients.stack.cloud("/admin/doctor")
    assert doctor["leaks"] == [] and doctor["summary"]["live_vms"] == 0
