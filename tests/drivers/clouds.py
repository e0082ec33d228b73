"""The four Libcloud-based clouds of the contract suite, as data: how to make each one's Libcloud
NodeDriver against Libcloud's recorded API, the region, VM and names its recordings hold, the
native states its VM shows after each action, what Libcloud lacks for it, and the routes and
fixtures we add where Libcloud's mocks have no answer for a call mcis makes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from libcloud.common.google import GoogleBaseAuthConnection
from libcloud.compute.drivers.azure_arm import AzureNodeDriver
from libcloud.compute.drivers.ecs import ECSDriver
from libcloud.compute.drivers.gce import GCENodeDriver
from libcloud.compute.drivers.openstack import OpenStack_2_NodeDriver

from drivers.connection import CloudKind, Location
from models.cloud import VmCreateRequest
from tests.drivers.libcloud_mocks import (
    ECS_PARAMS,
    GCE_KEYWORD_PARAMS,
    GCE_PARAMS,
    OPENSTACK_PARAMS,
    AzureHttp,
    EcsHttp,
    GceHttp,
    GoogleAuthMockHttp,
    MockCloud,
    OpenStackHttp,
    Route,
    SentRequest,
    Transition,
    ours,
    theirs,
)

NodeDriver = Any


@dataclass(frozen=True)
class CloudCase:
    """One cloud of the contract: what differs per cloud, as data. Patterns are regexes
    searched in a request's line (`SentRequest.line`)."""

    cloud: CloudKind
    region: str
    http: type
    """Our recording subclass of Libcloud's mock HTTP class for this cloud."""
    plug: tuple[tuple[type, type], ...]
    """(Libcloud connection class, mock HTTP class) pairs: `conn_class` to set on each."""
    new_node_driver: Callable[[], NodeDriver]
    vm_name: str
    """The name of the VM the recorded create makes."""
    vm_id: str
    spec: str
    image: str
    natives: dict[str, str]
    """The VM's native state once running and once stopped (suspended)."""
    credentials: Callable[[Path], dict[str, str]]
    """A connection's credentials naming the accounts of Libcloud's recordings (files they
    need go in the given folder)."""
    sent_tags: Callable[[SentRequest], dict[str, str]]
    """The tags (with the client token) a recorded create request carries."""
    sent_key: Callable[[SentRequest], str] | None
    """The SSH key (or key pair name) a recorded create request carries; None where mcis can
    register no key."""
    create_pattern: str
    stop_pattern: str
    start_pattern: str
    reboot_pattern: str
    delete_pattern: str
    options: dict[str, str] = field(default_factory=dict)
    vm_network: tuple[str, str] = ("", "")
    """The vNet and subnet the created VM is put in (Azure requires one: mcis adopts it)."""
    vm_security_groups: tuple[str, ...] = ()
    """Security groups the created VM is put in (ECS requires one, and mcis cannot make it)."""
    locations: dict[str, Location] = field(default_factory=dict)
    """The connection's places of regions no public table knows (a private cloud's)."""
    use_param: str | None = None
    """The query parameter Libcloud's mock names its answers by (ECS: the Action)."""
    routes: tuple[Route, ...] = ()
    transitions: tuple[Transition, ...] = ()
    lacks: frozenset[str] = frozenset()
    """Contract calls Libcloud offers nothing for on this cloud (NotSupportedError); `make_vnet`
    and `make_security_group`: it finds existing ones but cannot make new ones."""
    existing_network: str = ""
    """A network the recorded cloud holds, with subnet `{network}-{existing_subnet}` if any."""
    existing_subnet: str = ""
    network_create_pattern: str = "^$"
    existing_group: str = ""
    """A security group (GCE: firewall) the recorded cloud holds."""
    releases: tuple[str, ...] = ()
    """The deletes releasing the existing group and network send (none for what mcis adopts
    and never deletes: Azure's)."""
    group_create_pattern: str = "^$"
    sent_rules: Callable[[MockCloud], set[Rule]] | None = None
    """The inbound rules (protocol, from port, to port) the making of a new group sent."""
    existing_key: str = ""
    """A key pair the recorded cloud holds ("" where a key is no cloud resource)."""
    existing_public: str = ""
    key_create_pattern: str = "^$"
    key_delete_pattern: str = "^$"

    def __str__(self) -> str:
        return self.cloud

    def vm_request(self, spec: str = "", key_name: str = "") -> VmCreateRequest:
        """The contract's VM: the name, spec and image the recordings hold, mcis's tags and
        client token, the network and groups the cloud needs."""
        return VmCreateRequest(
            name=self.vm_name,
            spec=spec or self.spec,
            image=self.image,
            vnet_csp_id=self.vm_network[0],
            subnet_csp_id=self.vm_network[1],
            security_group_csp_ids=list(self.vm_security_groups),
            key_name=key_name,
            client_token=TOKEN,
            tags=TAGS,
        )


TAGS = {"mcis-ns": "dev", "mcis-mcis": "web"}
TOKEN = "tok-web-1"
"""The tags and client token of the VM the contract creates; our recorded listings after the
create show the VM with them (as the cloud's labels, metadata or tags)."""

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMcisContractKey mcis@test"
GCE_ZONE = r"/zones/us-central1-a"
GCE_INSTANCES = rf"GET \S*{GCE_ZONE}/instances\?"
NOVA_SERVERS = r"GET \S*/servers/detail\?"
NOVA_MADE = "26f7fbee-8ce1-4c28-887a-bfe8e4bb10fe"
ECS_LISTING = r"Action=DescribeInstances"


Rule = tuple[str, int | None, int | None]


def _gce_firewall_rules(mock: MockCloud) -> set[Rule]:
    [made] = mock.sent(r"POST \S*/global/firewalls\?")
    rules: set[Rule] = set()
    for allowed in json.loads(made.body)["allowed"]:
        ports = [int(p) for p in str(allowed.get("ports", [""])[0]).split("-") if p]
        low, high = (ports[0], ports[-1]) if ports else (None, None)
        rules.add((allowed["IPProtocol"], low, high))
    return rules


def _neutron_rules(mock: MockCloud) -> set[Rule]:
    sent = [
        json.loads(r.body)["security_group_rule"]
        for r in mock.sent(r"POST \S*/v2.0/security-group-rules\?")
    ]
    return {(r["protocol"], r["port_range_min"], r["port_range_max"]) for r in sent}


def _json_body(*keys: str) -> Callable[[SentRequest], dict[str, str]]:
    def read(request: SentRequest) -> dict[str, str]:
        value: Any = json.loads(request.body)
        for key in keys:
            value = value[key]
        return dict(value)

    return read


def _gce_ssh_keys(request: SentRequest) -> str:
    items = json.loads(request.body)["metadata"]["items"]
    return next(str(item["value"]) for item in items if item["key"] == "ssh-keys")


def _azure_ssh_key(request: SentRequest) -> str:
    linux = json.loads(request.body)["properties"]["osProfile"]["linuxConfiguration"]
    return str(linux["ssh"]["publicKeys"][0]["keyData"])


def _nova_key_name(request: SentRequest) -> str:
    return str(json.loads(request.body)["server"]["key_name"])


def _ecs_tags(request: SentRequest) -> dict[str, str]:
    """The ECS tags of CreateInstance (`Tag.N.Key`, `Tag.N.Value`), and its ClientToken."""
    params = request.params
    keys = sorted(k for k in params if re.fullmatch(r"Tag\.\d+\.Key", k))
    tags = {params[key]: params[key.replace(".Key", ".Value")] for key in keys}
    return {**tags, "ClientToken": params["ClientToken"]}


# Libcloud is untyped: its driver classes are called as Any.
_GCE: Any = GCENodeDriver
_NOVA: Any = OpenStack_2_NodeDriver
_ECS: Any = ECSDriver
_AZURE: Any = AzureNodeDriver


def _gce_credentials(folder: Path) -> dict[str, str]:
    """The service account of Libcloud's GCE tests with a key file of its own (Libcloud reads
    the key when it makes the driver; the token comes from the stubbed token file)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    email, _key = GCE_PARAMS
    key_file = folder / "gce-key.json"
    key_file.write_text(
        json.dumps({"type": "service_account", "client_email": email, "private_key": pem})
    )
    return {
        "service_account_email": email,
        "key_file": str(key_file),
        "project": GCE_KEYWORD_PARAMS["project"],
    }


def _gce() -> NodeDriver:
    return _GCE(*GCE_PARAMS, **GCE_KEYWORD_PARAMS, auth_type="IA", datacenter="us-central1-a")


def _openstack() -> NodeDriver:
    return _NOVA(
        *OPENSTACK_PARAMS,
        ex_force_auth_version="2.0",
        ex_force_auth_url="https://auth.api.example.com",
    )


AZURE_ACCOUNT = {
    "tenant_id": "77777777-7777-7777-7777-777777777777",
    "subscription_id": "99999999",
    "client_id": "55555555-5555-5555-5555-555555555555",
    "client_secret": "p4ssw0rd",
}
"""The credentials of Libcloud's Azure tests (AzureNodeDriverTests): its fixtures name them."""


def _azure() -> NodeDriver:
    return _AZURE(
        tenant_id=AZURE_ACCOUNT["tenant_id"],
        subscription_id=AZURE_ACCOUNT["subscription_id"],
        key=AZURE_ACCOUNT["client_id"],
        secret=AZURE_ACCOUNT["client_secret"],
        region="eastus",
    )


def _ecs() -> NodeDriver:
    return _ECS(*ECS_PARAMS, region="cn-qingdao")


GCP = CloudCase(
    cloud="gcp",
    region="us-central1",
    http=GceHttp,
    plug=(
        (GCENodeDriver.connectionCls, GceHttp),
        (GoogleBaseAuthConnection, GoogleAuthMockHttp),
    ),
    new_node_driver=_gce,
    credentials=_gce_credentials,
    vm_name="node-name",
    vm_id="4006034190819017667",
    spec="n1-standard-1",
    image="debian-7-wheezy-v20131120",
    natives={"running": "RUNNING", "stopped": "TERMINATED"},
    sent_tags=_json_body("labels"),
    sent_key=_gce_ssh_keys,
    create_pattern=rf"POST \S*{GCE_ZONE}/instances\?",
    stop_pattern=rf"POST \S*{GCE_ZONE}/instances/node-name/stop\?",
    start_pattern=rf"POST \S*{GCE_ZONE}/instances/node-name/start\?",
    reboot_pattern=rf"POST \S*{GCE_ZONE}/instances/node-name/reset\?",
    delete_pattern=rf"DELETE \S*{GCE_ZONE}/instances/node-name\?",
    routes=(
        # Written by us in the recorded format: the zone's instances before the create (none),
        # after it (node-name with mcis's labels), and stopped (GCE's TERMINATED).
        Route(
            GCE_INSTANCES,
            ours("gcp/zones_us-central1-a_instances_before_create.json"),
            phases=("start", "deleted"),
        ),
        Route(
            GCE_INSTANCES,
            ours("gcp/zones_us-central1-a_instances_running.json"),
            phases=("running",),
        ),
        Route(
            GCE_INSTANCES,
            ours("gcp/zones_us-central1-a_instances_stopped.json"),
            phases=("stopped",),
        ),
        # Written by us: instances.start and its operation (Libcloud's mock has no start).
        Route(
            rf"POST \S*{GCE_ZONE}/instances/node-name/start\?",
            ours(
                "gcp/operations_operation_zones_us-central1-a_instances_node-name_start_post.json"
            ),
        ),
        Route(
            rf"GET \S*{GCE_ZONE}/operations/operation-\S*_instances_node-name_start",
            ours(
                "gcp/operations_operation_zones_us-central1-a_instances_node-name_start_post.json"
            ),
        ),
        # Libcloud's recorded operation of a firewall delete answers each delete of a shared
        # resource mcis ensured (its mock deletes lcfirewall and lcnetwork only).
        Route(
            r"DELETE \S*/(global/firewalls|global/networks|regions/us-central1/subnetworks)/",
            theirs("gce/operations_operation_global_firewalls_lcfirewall_delete.json"),
        ),
        # Written by us: subnetworks.get of the subnetwork the contract makes.
        Route(
            r"GET \S*/regions/us-central1/subnetworks/lcnetwork-s1\?",
            ours("gcp/regions_us-central1_subnetworks_lcnetwork-s1.json"),
        ),
    ),
    transitions=(
        Transition(rf"POST \S*{GCE_ZONE}/instances\?", "running"),
        Transition(r"/instances/node-name/stop\?", "stopped"),
        Transition(r"/instances/node-name/start\?", "running"),
        Transition(rf"DELETE \S*{GCE_ZONE}/instances/node-name\?", "deleted"),
    ),
    existing_network="cf",
    releases=(
        r"DELETE \S*/global/firewalls/default-ssh\?",
        r"DELETE \S*/regions/us-central1/subnetworks/cf-972cf02e6ad49112\?",
        r"DELETE \S*/global/networks/cf\?",
    ),
    existing_subnet="972cf02e6ad49112",
    network_create_pattern=r"POST \S*/global/networks\?",
    existing_group="default-ssh",
    group_create_pattern=r"POST \S*/global/firewalls\?",
    sent_rules=_gce_firewall_rules,
)

OPENSTACK = CloudCase(
    cloud="openstack",
    region="RegionOne",
    http=OpenStackHttp,
    plug=tuple(
        (getattr(OpenStack_2_NodeDriver, name), OpenStackHttp)
        for name in ("connectionCls", "image_connectionCls", "network_connectionCls")
    ),
    new_node_driver=_openstack,
    # Libcloud records this account's Keystone v2 sign-in (its v3 recording is of another
    # cloud's catalog): connections say so with the option mcis offers.
    options={"auth_version": "2.0_password"},
    credentials=lambda _folder: {
        "auth_url": "https://auth.api.example.com",
        "username": OPENSTACK_PARAMS[0],
        "password": OPENSTACK_PARAMS[1],
        "project_name": "1337",
    },
    locations={"RegionOne": Location(display_name="Lab", latitude=36.35, longitude=127.38)},
    vm_name="racktest",
    vm_id=NOVA_MADE,
    spec="1GB slice",
    image="f24a3c1b-d52a-4116-91da-25b3eee8f55e",
    natives={"running": "ACTIVE", "stopped": "SHUTOFF"},
    sent_tags=_json_body("server", "metadata"),
    sent_key=_nova_key_name,
    create_pattern=r"POST \S*/servers\?",
    stop_pattern=rf"POST \S*/servers/{NOVA_MADE}/action\?\S* .*os-stop",
    start_pattern=rf"POST \S*/servers/{NOVA_MADE}/action\?\S* .*os-start",
    reboot_pattern=rf"POST \S*/servers/{NOVA_MADE}/action\?\S* .*reboot",
    delete_pattern=rf"DELETE \S*/servers/{NOVA_MADE}\?",
    routes=(
        # Written by us in the recorded format: the servers after the create (racktest, with
        # mcis's metadata) and after os-stop (SHUTOFF).
        Route(NOVA_SERVERS, ours("openstack/servers_detail_running.json"), phases=("running",)),
        Route(NOVA_SERVERS, ours("openstack/servers_detail_stopped.json"), phases=("stopped",)),
        # Nova answers a server action with 202 and no body, a delete with 204.
        Route(rf"POST \S*/servers/{NOVA_MADE}/action\?", None, status=202),
        Route(rf"DELETE \S*/servers/{NOVA_MADE}\?", None, status=204),
        # Nova answers a key pair's delete with 202 and no body (Libcloud's mock: key1 only);
        # the recorded test_key_pair is named test-key-pair in its body.
        Route(r"DELETE \S*/os-keypairs/test-key-pair\?", None, status=202),
        # Neutron answers a delete with 204 and no body.
        Route(r"DELETE \S*/v2.0/(security-groups|subnets|networks)/", None, status=204),
        # Libcloud's recorded 404 of a key pair, for any key but its recorded test_key_pair.
        Route(
            r"GET \S*/os-keypairs/(?!test_key_pair\?)[^/?]+\?",
            theirs("openstack_v1_1/_os_keypairs_not_found.json"),
            status=404,
        ),
    ),
    transitions=(
        Transition(r"POST \S*/servers\?", "running"),
        Transition(r"/action\?\S* .*os-stop", "stopped"),
        Transition(r"/action\?\S* .*os-start", "running"),
        Transition(rf"DELETE \S*/servers/{NOVA_MADE}\?", "deleted"),
    ),
    existing_network="net1",
    releases=(
        r"DELETE \S*/v2.0/security-groups/2\?",
        r"DELETE \S*/v2.0/subnets/54d6f61d-db07-451c-9ab3-b9609b6b6f0b\?",
        r"DELETE \S*/v2.0/networks/d32019d3-bc6e-4319-9c1d-6722fc136a22\?",
    ),
    network_create_pattern=r"POST \S*/v2.0/networks\?",
    existing_group="default",
    group_create_pattern=r"POST \S*/v2.0/security-groups\?",
    sent_rules=_neutron_rules,
    existing_key="test_key_pair",
    existing_public=json.loads(theirs("openstack_v1_1/_os_keypairs_get_one.json").read_text())[
        "keypair"
    ]["public_key"],
    key_create_pattern=r"POST \S*/os-keypairs\?",
    key_delete_pattern=r"DELETE \S*/os-keypairs/test-key-pair\?",
)

ALIBABA = CloudCase(
    cloud="alibaba",
    region="cn-qingdao",
    http=EcsHttp,
    plug=((ECSDriver.connectionCls, EcsHttp),),
    use_param="Action",
    vm_security_groups=("sg-28ou0f3xa",),
    new_node_driver=_ecs,
    credentials=lambda _folder: dict(
        zip(("access_key_id", "access_key_secret"), ECS_PARAMS, strict=True)
    ),
    vm_name="web-1",
    vm_id="i-28n7dkvov",
    spec="ecs.t1.xsmall",
    image="freebsd1001_64_20G_aliaegis_20150527.vhd",
    natives={"running": "Running", "stopped": "Stopped"},
    sent_tags=_ecs_tags,
    sent_key=None,
    create_pattern=r"Action=CreateInstance",
    stop_pattern=r"Action=StopInstance&InstanceId=i-28n7dkvov",
    start_pattern=r"Action=StartInstance&InstanceId=i-28n7dkvov",
    reboot_pattern=r"Action=RebootInstance&InstanceId=i-28n7dkvov",
    delete_pattern=r"Action=DeleteInstance&InstanceId=i-28n7dkvov",
    routes=(
        # Libcloud's recordings of these calls, which its mock routes only under a test's name.
        Route(r"Action=DescribeImages", theirs("ecs/describe_images.xml")),
        Route(r"Action=CreateInstance", theirs("ecs/create_instance.xml")),
        Route(r"Action=StopInstance", theirs("ecs/stop_instance.xml")),
        Route(r"Action=StartInstance", theirs("ecs/start_instance.xml")),
        Route(r"Action=RebootInstance", theirs("ecs/reboot_instance.xml")),
        Route(r"Action=DeleteInstance", theirs("ecs/delete_instance.xml")),
        # Written by us in the recorded format: DescribeInstances once mcis made web-1 (its tags
        # in the description), running and stopped (a new ECS instance is Stopped until started).
        Route(ECS_LISTING, ours("alibaba/describe_instances_running.xml"), phases=("running",)),
        Route(ECS_LISTING, ours("alibaba/describe_instances_stopped.xml"), phases=("stopped",)),
        Route(ECS_LISTING, ours("alibaba/describe_instances_none.xml"), phases=("deleted",)),
    ),
    transitions=(
        Transition(r"Action=CreateInstance", "stopped"),
        Transition(r"Action=StopInstance", "stopped"),
        Transition(r"Action=StartInstance", "running"),
        Transition(r"Action=DeleteInstance", "deleted"),
    ),
    lacks=frozenset(
        {
            "ensure_vnet",
            "delete_vnet",
            "ensure_security_group",
            "delete_security_group",
            "import_key_pair",
        }
    ),
)

AZURE_GROUP = "/subscriptions/99999999/resourceGroups/000000/providers"
AZURE_VMS = r"GET \S*/resourceGroups/000000/providers/Microsoft.Compute/virtualMachines\?"
AZURE_VM = r"\S*/virtualMachines/test-node-1"
AZURE_NETWORK = (
    "/subscriptions/99999999-9999-9999-9999-999999999999/resourceGroups/REVIZOR/providers/"
    "Microsoft.Network/virtualNetworks/test_network"
)

AZURE = CloudCase(
    cloud="azure",
    region="eastus",
    http=AzureHttp,
    plug=((AzureNodeDriver.connectionCls, AzureHttp),),
    new_node_driver=_azure,
    credentials=lambda _folder: AZURE_ACCOUNT,
    options={"resource_group": "000000"},
    vm_name="test-node-1",
    vm_id=f"{AZURE_GROUP}/Microsoft.Compute/virtualMachines/test-node-1",
    spec="Standard_A1",
    image="Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest",
    natives={"running": "running", "stopped": "deallocated"},
    sent_tags=_json_body("tags"),
    sent_key=_azure_ssh_key,
    create_pattern=rf"PUT {AZURE_VM}\?",
    stop_pattern=rf"POST {AZURE_VM}/deallocate\?",
    start_pattern=rf"POST {AZURE_VM}/start\?",
    reboot_pattern=rf"POST {AZURE_VM}/restart\?",
    delete_pattern=rf"DELETE {AZURE_VM}\?",
    vm_network=(AZURE_NETWORK, f"{AZURE_NETWORK}/subnets/Azure_VPC_Subnet"),
    routes=(
        # Written by us in the recorded format: the resource group's VMs before the create
        # (none) and after it (test-node-1 with mcis's tags), its instance view once
        # deallocated, the subnets of the recorded test_network, and the resource group's
        # network security groups (Libcloud records none of these).
        Route(
            AZURE_VMS, ours("azure/virtualMachines_before_create.json"), phases=("start", "deleted")
        ),
        Route(AZURE_VMS, ours("azure/virtualMachines_running.json"), phases=("running", "stopped")),
        Route(
            rf"GET {AZURE_VM}\?",
            ours("azure/virtualMachine_not_found.json"),
            phases=("deleted",),
            status=404,
        ),
        Route(
            rf"GET {AZURE_VM}/InstanceView\?",
            ours("azure/test_node_1_InstanceView_deallocated.json"),
            phases=("stopped",),
        ),
        Route(
            r"GET \S*/virtualNetworks/test_network/subnets\?",
            ours("azure/test_network_subnets.json"),
        ),
        Route(
            r"GET \S*/resourceGroups/000000/providers/Microsoft.Network/networkSecurityGroups\?",
            ours("azure/networkSecurityGroups.json"),
        ),
        # ARM's 400 to a VM whose image no publisher offers (the contract's unknown image).
        Route(
            rf"PUT {AZURE_VM}\?\S* .*no-such-image",
            ours("azure/virtualMachine_image_not_found.json"),
            status=400,
        ),
        # Azure accepts a VM's power action with 202 and no body.
        Route(rf"POST {AZURE_VM}/(deallocate|start|restart)\?", None, status=202),
    ),
    transitions=(
        Transition(rf"PUT {AZURE_VM}\?", "running"),
        Transition(rf"POST {AZURE_VM}/deallocate\?", "stopped"),
        Transition(rf"POST {AZURE_VM}/start\?", "running"),
        Transition(rf"DELETE {AZURE_VM}\?", "deleted"),
    ),
    lacks=frozenset({"make_vnet", "make_security_group"}),
    existing_network="test_network",
    existing_subnet="Azure_VPC_Subnet",
    existing_group="mcis-web",
)

CASES = (GCP, AZURE, OPENSTACK, ALIBABA)
