"""The AWS driver, over boto3: the whole CloudDriver protocol against EC2 (or an EC2 emulator
such as moto at the connection's endpoint).

Why boto3 and not Libcloud's EC2 driver: against moto, Libcloud's driver needs SigV4 forced,
fails to parse moto's answers (XML namespace without the trailing slash it expects), cannot tag
(`ex_create_tags`) and reports reboots as failed; boto3 has none of these problems, and it is what
AWS maintains. boto3 is synchronous: every call runs in this driver's own thread pool, one
boto3 client per region, made on first use (drivers/base.py's `SdkDriver`). botocore's own
retries are off: throttling and
transient errors surface as drivers.errors and Temporal retries the activity.

Idempotency: EC2's ClientToken is passed (real AWS returns the first instance for a repeated
token), but emulators ignore it, so `create_vm` first looks the instance up by its
`mcis-client-token` tag, set atomically at creation with TagSpecifications. vNets (VPC + subnets
+ internet gateway) and security groups are found by name before they are made; key pairs are
compared by public key.

Batches (`BatchVmSource`): `create_vms` makes the VMs of one shape (instance type, image,
subnet, security groups, key) with one RunInstances of MinCount = MaxCount = n, whose
ClientToken is a hash of the VMs' sorted client tokens, then gives each VM its own tags (Name,
its request's tags, `mcis-client-token`) with CreateTags; the batch's instances carry the tags
its VMs share and `mcis-batch-token` from launch, which is how a call repeated after a crash
before the last CreateTags finds them (see `create_vms`). `act_on_vms` is one
Stop/Start/Reboot/TerminateInstances for all the ids and one DescribeInstances after.

Catalog: `specs` are the instance types EC2 describes in the region that have an on-demand Linux
price in Libcloud's bundled pricing data (`libcloud/data/pricing.json`, `ec2_linux`): a type
without a known price cannot be ranked by the planner, so it is not offered. `images` are a small
curated set (Ubuntu, Amazon Linux 2023/2, Debian, x86_64), the newest AMI of each; an image's
name is its AMI id, its `os` the family (e.g. `ubuntu-22.04`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, ClassVar, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from catalog.entries import Image, Region, Spec
from catalog.regions import AWS_REGIONS
from drivers.base import SdkDriver, normalized_public_key, public_key_digest
from drivers.connection import Connection
from drivers.errors import (
    CloudError,
    CloudNotFoundError,
    CloudUnreachableError,
    ConflictError,
    InvalidRequestError,
    PermanentCloudError,
    QuotaExceededError,
    ThrottledError,
    TransientCloudError,
)
from models.cloud import (
    CloudKeyPair,
    CloudSecurityGroup,
    CloudVm,
    CloudVNet,
    FirewallRule,
    SubnetSpec,
    VmAction,
    VmCreateRequest,
)

T = TypeVar("T")
Ec2 = Any
"""A boto3 EC2 client (boto3 ships no types)."""

CLOUD = "aws"
MAX_THREADS = 16
CATALOG_TTL_S = 600.0
THROTTLE_RETRY_AFTER_S = 1.0
FILTER_VALUES = 200
"""Values per Describe* filter (EC2 refuses more)."""
CLIENT_TOKEN_MAX = 64
TAG_CLIENT_TOKEN = "mcis-client-token"
TAG_BATCH_TOKEN = "mcis-batch-token"
"""Set at launch on every instance of a batch RunInstances (and its volumes): the batch's
ClientToken, which finds the batch's instances before their own tags are set."""
TAG_SUBNET = "mcis-subnet"
TAG_PUBLIC_KEY = "mcis-public-key-sha256"


IMAGE_OWNERS = ("099720109477", "amazon", "136693071363")
"""Canonical (Ubuntu), Amazon, Debian."""
IMAGE_NAME_PATTERNS = (
    "ubuntu/images/hvm-ssd*/ubuntu-*-amd64-server-*",
    "al2023-ami-2023*-x86_64",
    "amzn2-ami-hvm-2.0.*-x86_64-gp2",
    "debian-1[0-9]-amd64-*",
)
IMAGE_FAMILIES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^ubuntu/images/hvm-ssd[^/]*/ubuntu-[a-z]+-(\d+\.\d+)-amd64-server-"),
        "ubuntu-{}",
    ),
    (re.compile(r"^al2023-ami-2023"), "amazon-linux-2023"),
    (re.compile(r"^amzn2-ami-hvm-2\.0\."), "amazon-linux-2"),
    (re.compile(r"^debian-(\d+)-amd64-"), "debian-{}"),
)

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)
QUOTA_CODES = frozenset(
    {
        "InsufficientInstanceCapacity",
        "InsufficientHostCapacity",
        "InsufficientReservedInstanceCapacity",
        "InstanceLimitExceeded",
        "VcpuLimitExceeded",
        "MaxSpotInstanceCountExceeded",
        "VpcLimitExceeded",
        "SubnetLimitExceeded",
        "InternetGatewayLimitExceeded",
        "AddressLimitExceeded",
        "ResourceLimitExceeded",
        "SecurityGroupLimitExceeded",
        "RulesPerSecurityGroupLimitExceeded",
        "KeyPairLimitExceeded",
        "VolumeLimitExceeded",
    }
)
AUTH_CODES = frozenset(
    {
        "AuthFailure",
        "UnauthorizedOperation",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "OptInRequired",
        "Blocked",
        "ExpiredToken",
        "RequestExpired",
        "UnrecognizedClientException",
        "AccessDenied",
        "AccessDeniedException",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "Unavailable",
        "DependencyViolation",  # e.g. a VPC whose just-terminated instances still hold ENIs
    }
)
NOT_FOUND_INSTANCE_CODES = frozenset({"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"})
ACTION_CALLS = {
    VmAction.SUSPEND: "stop_instances",
    VmAction.RESUME: "start_instances",
    VmAction.REBOOT: "reboot_instances",
    VmAction.TERMINATE: "terminate_instances",
}
FAILURE_REASON_PREFIXES = ("Server.", "Client.VolumeLimitExceeded", "Client.InternalError")
"""StateReason codes that mean the VM failed (not a user's stop or terminate)."""


def cloud_error(exc: Exception, what: str) -> CloudError:
    """The drivers.errors exception for a failed boto3 call (`what` names the connection)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "ClientError")
        message = f"{what}: {code}: {error.get('Message') or exc}"
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in THROTTLING_CODES or status == 429:
            return ThrottledError(message, THROTTLE_RETRY_AFTER_S, code)
        if code in QUOTA_CODES:
            return QuotaExceededError(message, code)
        if code in AUTH_CODES:
            return PermanentCloudError(f"{what}: credentials rejected ({code})", code)
        if code in TRANSIENT_CODES or status >= 500:
            return TransientCloudError(message, code)
        if code.endswith(".NotFound") or code.endswith("NotFound"):
            return CloudNotFoundError(message, code)
        if code.endswith(".Duplicate") or code in ("IdempotentParameterMismatch",):
            return ConflictError(message, code)
        return InvalidRequestError(message, code)
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return CloudUnreachableError(f"{what}: endpoint did not answer: {exc}", "Unreachable")
    if isinstance(exc, ReadTimeoutError):
        return TransientCloudError(f"{what}: no answer in time: {exc}", "Timeout")
    if isinstance(exc, NoCredentialsError):
        return PermanentCloudError(f"{what}: no credentials", "NoCredentials")
    return TransientCloudError(f"{what}: {type(exc).__name__}: {exc}", type(exc).__name__)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _tags(items: Sequence[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or ()}


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _tag_spec(kind: str, tags: dict[str, str]) -> list[dict[str, Any]]:
    return [{"ResourceType": kind, "Tags": _tag_list(tags)}]


def _tag_filters(tags: dict[str, str]) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{k}", "Values": [v]} for k, v in tags.items()]


def _chunks(values: Sequence[str], size: int = FILTER_VALUES) -> list[list[str]]:
    return [list(values[i : i + size]) for i in range(0, len(values), size)]


Shape = tuple[str, str, str, tuple[str, ...], str]
"""What the VMs of one RunInstances share: instance type, image, subnet, security groups, key."""


_Made = tuple[dict[str, dict[str, Any]], dict[str, CloudError]]
"""One shape's part of a batch create: instances by client token, and refused VMs' errors."""


def vm_shape(request: VmCreateRequest) -> Shape:
    groups = tuple(sorted(request.security_group_csp_ids))
    return (request.spec, request.image, request.subnet_csp_id, groups, request.key_name)


def batch_token(shape: Shape, tokens: Iterable[str]) -> str:
    """The ClientToken of one batch RunInstances: a hash of its shape and its VMs' sorted client
    tokens, so the same VMs to make always get the same token (63 characters; EC2 takes 64)."""
    raw = json.dumps([*shape, sorted(set(tokens))], separators=(",", ":"))
    return "mcis-batch-" + hashlib.sha256(raw.encode()).hexdigest()[:52]


def vm_tags(request: VmCreateRequest) -> dict[str, str]:
    """Every tag one VM carries: its cloud name, its request's tags, its client token."""
    return {"Name": request.name, **request.tags, TAG_CLIENT_TOKEN: request.client_token}


def shared_tags(requests: Sequence[VmCreateRequest]) -> dict[str, str]:
    """The request tags every one of `requests` carries with the same value."""
    shared = dict(requests[0].tags)
    for request in requests[1:]:
        shared = {k: v for k, v in shared.items() if request.tags.get(k) == v}
    return shared


def launch_params(
    request: VmCreateRequest, count: int, token: str, tags: dict[str, str]
) -> dict[str, Any]:
    """RunInstances' parameters for `count` VMs of `request`'s shape, all tagged `tags`."""
    params: dict[str, Any] = {
        "ImageId": request.image,
        "InstanceType": request.spec,
        "MinCount": count,
        "MaxCount": count,
        "ClientToken": token[:CLIENT_TOKEN_MAX],
        "TagSpecifications": _tag_spec("instance", tags) + _tag_spec("volume", tags),
    }
    if request.key_name:
        params["KeyName"] = request.key_name
    if request.subnet_csp_id:
        params["SubnetId"] = request.subnet_csp_id
    if request.security_group_csp_ids:
        params["SecurityGroupIds"] = sorted(request.security_group_csp_ids)
    return params


def _launch_order(instances: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(instances, key=lambda i: (int(i.get("AmiLaunchIndex", 0)), i["InstanceId"]))


def _earliest(instances: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return min(instances, key=lambda i: (str(i.get("LaunchTime", "")), i["InstanceId"]))


def ids_named(message: str, csp_ids: Iterable[str]) -> list[str]:
    """The ids among `csp_ids` that an EC2 error message names (e.g. `The instance IDs 'i-1,
    i-2' do not exist`, `The instance 'i-3' is not in a state from which it can be stopped`)."""
    return [
        csp_id
        for csp_id in csp_ids
        if re.search(rf"(?<![\w-]){re.escape(csp_id)}(?![\w-])", message)
    ]


def ip_permission(rule: FirewallRule) -> dict[str, Any]:
    protocol = "-1" if rule.protocol == "all" else rule.protocol
    permission: dict[str, Any] = {"IpProtocol": protocol, "IpRanges": [{"CidrIp": rule.cidr}]}
    if protocol != "-1":
        permission["FromPort"] = rule.from_port
        permission["ToPort"] = rule.to_port
    return permission


def firewall_rules(permissions: Sequence[dict[str, Any]], direction: str) -> list[FirewallRule]:
    rules = []
    for perm in permissions:
        protocol = "all" if perm.get("IpProtocol") == "-1" else str(perm.get("IpProtocol"))
        for ip_range in perm.get("IpRanges", []):
            rules.append(
                FirewallRule(
                    direction=direction,
                    protocol=protocol,
                    from_port=int(perm.get("FromPort", -1)),
                    to_port=int(perm.get("ToPort", -1)),
                    cidr=ip_range["CidrIp"],
                )
            )
    return rules


def _rule_key(rule: FirewallRule) -> tuple[str, str, int, int, str]:
    ports = (-1, -1) if rule.protocol == "all" else (rule.from_port, rule.to_port)
    return (rule.direction, rule.protocol, *ports, rule.cidr)


def image_family(name: str) -> str | None:
    for pattern, family in IMAGE_FAMILIES:
        match = pattern.match(name)
        if match:
            return family.format(*match.groups())
    return None


_pricing: dict[str, dict[str, float]] | None = None
_pricing_lock = threading.Lock()


def ec2_prices() -> dict[str, dict[str, float]]:
    """Libcloud's bundled on-demand Linux prices: instance type -> region -> USD per hour."""
    global _pricing
    with _pricing_lock:
        if _pricing is None:
            from libcloud.pricing import get_pricing

            _pricing = dict(get_pricing("compute", "ec2_linux") or {})
        return _pricing


def ec2_price(instance_type: str, region: str) -> float | None:
    price = ec2_prices().get(instance_type, {}).get(region)
    return float(price) if price else None


def ec2_clients(
    access_key_id: str,
    secret_access_key: str,
    session_token: str = "",
    endpoint_url: str | None = None,
) -> Callable[[str], Ec2]:
    """How to make the boto3 EC2 client of a region with these credentials (at `endpoint_url`,
    e.g. moto's, when given)."""

    def client(region: str) -> Ec2:
        session = boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            aws_session_token=session_token or None,
            region_name=region,
        )
        return session.client(
            "ec2",
            endpoint_url=endpoint_url,
            config=Config(
                retries={"total_max_attempts": 1, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
                max_pool_connections=MAX_THREADS,
            ),
        )

    return client


class AwsDriver(SdkDriver[Ec2, dict[str, Any]]):
    """The CloudDriver of one AWS connection (provider = the connection's name):
    `AwsDriver(name, regions, ec2_clients(key_id, secret))`, or `from_connection`."""

    cloud = CLOUD
    public_regions = AWS_REGIONS
    max_threads = MAX_THREADS
    sdk_errors: ClassVar[tuple[type[Exception], ...]] = (ClientError, BotoCoreError)
    cloud_error = staticmethod(cloud_error)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._catalog: dict[tuple[str, str], tuple[float, Any]] = {}
        self._name_locks: dict[tuple[str, str, str], threading.Lock] = {}

    @classmethod
    def client_factory(cls, connection: Connection) -> Callable[[str], Ec2]:
        return ec2_clients(
            connection.secret("access_key_id"),
            connection.secret("secret_access_key"),
            connection.secret("session_token"),
            connection.endpoint_url,
        )

    def _named(self, kind: str, region: str, name: str) -> threading.Lock:
        """One lock per named resource: concurrent ensures of one name in this process run one
        after the other (across processes, the smallest id wins and the others are deleted)."""
        with self._lock:
            return self._name_locks.setdefault((kind, region, name), threading.Lock())

    async def _per_region(
        self, kind: str, region: str | None, load: Callable[[str], Awaitable[list[T]]]
    ) -> list[T]:
        """The catalog part `kind` of `region` (None: every configured region), each region's
        list loaded by `load` and kept for CATALOG_TTL_S."""
        found: list[T] = []
        for name in self._regions_or(region):
            entry = self._catalog.get((kind, name))
            if entry is None or time.monotonic() - entry[0] >= CATALOG_TTL_S:
                loaded = await load(name)
                entry = self._catalog[kind, name] = (time.monotonic(), loaded)
            found += entry[1]
        return found

    # catalog

    async def regions(self) -> list[Region]:
        """The connection's regions that the account offers (one DescribeRegions call, which
        also proves the credentials work) and whose place is known."""

        def describe(ec2: Ec2) -> set[str]:
            return {r["RegionName"] for r in ec2.describe_regions()["Regions"]}

        offered = await self._call(self.configured_regions[0], describe)
        return self._located([name for name in self.configured_regions if name in offered])

    async def specs(self, region: str | None = None) -> list[Spec]:
        return await self._per_region("specs", region, self._region_specs)

    async def _region_specs(self, region: str) -> list[Spec]:
        def describe(ec2: Ec2) -> list[dict[str, Any]]:
            types: list[dict[str, Any]] = []
            for page in ec2.get_paginator("describe_instance_types").paginate():
                types += page["InstanceTypes"]
            return types

        specs = []
        for item in await self._call(region, describe):
            name = item["InstanceType"]
            price = ec2_price(name, region)
            if price is None:
                continue
            specs.append(
                Spec(
                    provider=self.provider,
                    region=region,
                    name=name,
                    vcpus=int(item.get("VCpuInfo", {}).get("DefaultVCpus", 0)),
                    memory_gib=round(item.get("MemoryInfo", {}).get("SizeInMiB", 0) / 1024, 3),
                    price_per_hour=price,
                )
            )
        specs.sort(key=lambda s: s.name)
        return specs

    async def images(self, region: str | None = None) -> list[Image]:
        return await self._per_region("images", region, self._region_images)

    async def _region_images(self, region: str) -> list[Image]:
        def describe(ec2: Ec2) -> list[dict[str, Any]]:
            answer = ec2.describe_images(
                Owners=list(IMAGE_OWNERS),
                Filters=[
                    {"Name": "name", "Values": list(IMAGE_NAME_PATTERNS)},
                    {"Name": "architecture", "Values": ["x86_64"]},
                    {"Name": "state", "Values": ["available"]},
                ],
            )
            return list(answer["Images"])

        newest: dict[str, dict[str, Any]] = {}
        for item in await self._call(region, describe):
            family = image_family(item.get("Name", ""))
            if family is None:
                continue
            key = (item.get("CreationDate", ""), item.get("Name", ""))
            best = newest.get(family)
            if best is None or key > (best.get("CreationDate", ""), best.get("Name", "")):
                newest[family] = item
        return [
            Image(provider=self.provider, region=region, name=item["ImageId"], os=family)
            for family, item in sorted(newest.items())
        ]

    # networks

    async def ensure_vnet(
        self,
        region: str,
        name: str,
        cidr: str,
        subnets: Sequence[SubnetSpec],
        tags: dict[str, str],
    ) -> CloudVNet:
        """A VPC named `name` (tag Name) with an internet gateway, a default route to it, and one
        subnet per SubnetSpec (tag mcis-subnet) that gives its instances public IPs."""

        def ensure(ec2: Ec2) -> CloudVNet:
            with self._named("vnet", region, name):
                return self._ensure_vnet(ec2, region, name, cidr, subnets, tags)

        return await self._call(region, ensure)

    def _ensure_vnet(
        self,
        ec2: Ec2,
        region: str,
        name: str,
        cidr: str,
        subnets: Sequence[SubnetSpec],
        tags: dict[str, str],
    ) -> CloudVNet:
        vpc = self._find_vpc(ec2, name)
        if vpc is None:
            created = ec2.create_vpc(
                CidrBlock=cidr, TagSpecifications=_tag_spec("vpc", {"Name": name, **tags})
            )["Vpc"]
            # Two concurrent ensures may both have created one: all keep the smallest id.
            vpc = self._find_vpc(ec2, name) or created
            if vpc["VpcId"] != created["VpcId"]:
                self._delete_vpc(ec2, created["VpcId"])
        if vpc["CidrBlock"] != cidr:
            raise ConflictError(
                f"{self._what}: VPC {name!r} ({vpc['VpcId']}) exists with CIDR "
                f"{vpc['CidrBlock']}, not {cidr}",
                "VNetConflict",
            )
        vpc_id = vpc["VpcId"]
        self._ensure_internet_route(ec2, vpc_id, name, tags)
        subnet_ids = self._ensure_subnets(ec2, vpc_id, name, subnets, tags)
        return CloudVNet(
            csp_id=vpc_id,
            name=name,
            provider=self.provider,
            region=region,
            cidr=cidr,
            subnets=subnet_ids,
            tags=_tags(vpc.get("Tags")),
        )

    @staticmethod
    def _find_vpc(ec2: Ec2, name: str) -> dict[str, Any] | None:
        vpcs = ec2.describe_vpcs(Filters=_tag_filters({"Name": name}))["Vpcs"]
        return min(vpcs, key=lambda v: v["VpcId"]) if vpcs else None

    @staticmethod
    def _ensure_internet_route(ec2: Ec2, vpc_id: str, name: str, tags: dict[str, str]) -> None:
        gateways = ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}]
        )["InternetGateways"]
        if gateways:
            gateway_id = gateways[0]["InternetGatewayId"]
        else:
            gateway_id = ec2.create_internet_gateway(
                TagSpecifications=_tag_spec("internet-gateway", {"Name": name, **tags})
            )["InternetGateway"]["InternetGatewayId"]
            ec2.attach_internet_gateway(InternetGatewayId=gateway_id, VpcId=vpc_id)
        tables = ec2.describe_route_tables(
            Filters=[
                {"Name": "vpc-id", "Values": [vpc_id]},
                {"Name": "association.main", "Values": ["true"]},
            ]
        )["RouteTables"]
        for table in tables:
            if any(r.get("DestinationCidrBlock") == "0.0.0.0/0" for r in table.get("Routes", [])):
                continue
            try:
                ec2.create_route(
                    RouteTableId=table["RouteTableId"],
                    DestinationCidrBlock="0.0.0.0/0",
                    GatewayId=gateway_id,
                )
            except ClientError as exc:
                if _code(exc) != "RouteAlreadyExists":
                    raise

    @staticmethod
    def _ensure_subnets(
        ec2: Ec2, vpc_id: str, name: str, subnets: Sequence[SubnetSpec], tags: dict[str, str]
    ) -> dict[str, str]:
        def existing() -> list[dict[str, Any]]:
            answer = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
            return list(answer["Subnets"])

        found = existing()
        ids: dict[str, str] = {}
        for spec in subnets:
            match = next(
                (s for s in found if _tags(s.get("Tags")).get(TAG_SUBNET) == spec.name), None
            )
            if match is None:
                try:
                    match = ec2.create_subnet(
                        VpcId=vpc_id,
                        CidrBlock=spec.cidr,
                        TagSpecifications=_tag_spec(
                            "subnet", {"Name": f"{name}-{spec.name}", TAG_SUBNET: spec.name, **tags}
                        ),
                    )["Subnet"]
                except ClientError as exc:
                    if _code(exc) != "InvalidSubnet.Conflict":
                        raise
                    # Made by a concurrent ensure since we looked: the one with our CIDR.
                    match = next((s for s in existing() if s["CidrBlock"] == spec.cidr), None)
                    if match is None:
                        raise
                ec2.modify_subnet_attribute(
                    SubnetId=match["SubnetId"], MapPublicIpOnLaunch={"Value": True}
                )
            ids[spec.name] = match["SubnetId"]
        return ids

    async def delete_vnet(self, region: str, csp_id: str) -> None:
        await self._call(region, lambda ec2: self._delete_vpc(ec2, csp_id))

    @staticmethod
    def _delete_vpc(ec2: Ec2, vpc_id: str) -> None:
        """Delete the VPC with its subnets and internet gateway; gone already is fine."""
        try:
            ec2.describe_vpcs(VpcIds=[vpc_id])
        except ClientError as exc:
            if _code(exc) == "InvalidVpcID.NotFound":
                return
            raise
        by_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
        for subnet in ec2.describe_subnets(Filters=by_vpc)["Subnets"]:
            ec2.delete_subnet(SubnetId=subnet["SubnetId"])
        gateways = ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}]
        )["InternetGateways"]
        for gateway in gateways:
            gateway_id = gateway["InternetGatewayId"]
            ec2.detach_internet_gateway(InternetGatewayId=gateway_id, VpcId=vpc_id)
            ec2.delete_internet_gateway(InternetGatewayId=gateway_id)
        try:
            ec2.delete_vpc(VpcId=vpc_id)
        except ClientError as exc:
            if _code(exc) != "InvalidVpcID.NotFound":
                raise

    async def ensure_security_group(
        self,
        region: str,
        name: str,
        vnet_csp_id: str,
        rules: Sequence[FirewallRule],
        tags: dict[str, str],
    ) -> CloudSecurityGroup:
        def ensure(ec2: Ec2) -> CloudSecurityGroup:
            with self._named("security-group", region, name):
                return ensure_group(ec2)

        def ensure_group(ec2: Ec2) -> CloudSecurityGroup:
            group = self._find_group(ec2, name, vnet_csp_id)
            if group is None:
                try:
                    ec2.create_security_group(
                        GroupName=name,
                        Description=f"mcis {name}",
                        VpcId=vnet_csp_id,
                        TagSpecifications=_tag_spec("security-group", {"Name": name, **tags}),
                    )
                except ClientError as exc:
                    if _code(exc) != "InvalidGroup.Duplicate":
                        raise
                group = self._find_group(ec2, name, vnet_csp_id)
                if group is None:
                    raise CloudNotFoundError(
                        f"{self._what}: security group {name!r} vanished after creation",
                        "InvalidGroup.NotFound",
                    )
            have = {
                _rule_key(r)
                for r in firewall_rules(group.get("IpPermissions", []), "inbound")
                + firewall_rules(group.get("IpPermissionsEgress", []), "outbound")
            }
            for rule in rules:
                if _rule_key(rule) in have:
                    continue
                authorize = (
                    ec2.authorize_security_group_ingress
                    if rule.direction == "inbound"
                    else ec2.authorize_security_group_egress
                )
                try:
                    authorize(GroupId=group["GroupId"], IpPermissions=[ip_permission(rule)])
                except ClientError as exc:
                    if _code(exc) != "InvalidPermission.Duplicate":
                        raise
                have.add(_rule_key(rule))
            group = self._find_group(ec2, name, vnet_csp_id) or group
            return CloudSecurityGroup(
                csp_id=group["GroupId"],
                name=name,
                provider=self.provider,
                region=region,
                vnet_csp_id=vnet_csp_id,
                rules=firewall_rules(group.get("IpPermissions", []), "inbound"),
                tags=_tags(group.get("Tags")),
            )

        return await self._call(region, ensure)

    @staticmethod
    def _find_group(ec2: Ec2, name: str, vpc_id: str) -> dict[str, Any] | None:
        groups = ec2.describe_security_groups(
            Filters=[
                {"Name": "group-name", "Values": [name]},
                {"Name": "vpc-id", "Values": [vpc_id]},
            ]
        )["SecurityGroups"]
        return groups[0] if groups else None

    async def delete_security_group(self, region: str, csp_id: str) -> None:
        def delete(ec2: Ec2) -> None:
            try:
                ec2.delete_security_group(GroupId=csp_id)
            except ClientError as exc:
                if _code(exc) not in ("InvalidGroup.NotFound", "InvalidGroupId.Malformed"):
                    raise

        await self._call(region, delete)

    async def import_key_pair(
        self, region: str, name: str, public_key: str, tags: dict[str, str]
    ) -> CloudKeyPair:
        digest = public_key_digest(public_key)

        def existing(ec2: Ec2) -> dict[str, Any] | None:
            try:
                pairs = ec2.describe_key_pairs(KeyNames=[name], IncludePublicKey=True)["KeyPairs"]
            except ClientError as exc:
                if _code(exc) == "InvalidKeyPair.NotFound":
                    return None
                raise
            return pairs[0] if pairs else None

        def same_key(pair: dict[str, Any]) -> bool:
            if pair.get("PublicKey"):
                return bool(
                    normalized_public_key(pair["PublicKey"]) == normalized_public_key(public_key)
                )
            return _tags(pair.get("Tags")).get(TAG_PUBLIC_KEY) == digest

        def ensure(ec2: Ec2) -> CloudKeyPair:
            with self._named("key-pair", region, name):
                return ensure_pair(ec2)

        def ensure_pair(ec2: Ec2) -> CloudKeyPair:
            pair = existing(ec2)
            if pair is None:
                try:
                    pair = ec2.import_key_pair(
                        KeyName=name,
                        PublicKeyMaterial=normalized_public_key(public_key).encode(),
                        TagSpecifications=_tag_spec("key-pair", {**tags, TAG_PUBLIC_KEY: digest}),
                    )
                except ClientError as exc:
                    if _code(exc) != "InvalidKeyPair.Duplicate":
                        raise
                    pair = existing(ec2)
                    if pair is None:
                        raise
                    if not same_key(pair):
                        raise self._key_conflict(name) from None
            elif not same_key(pair):
                raise self._key_conflict(name)
            return CloudKeyPair(
                name=name,
                provider=self.provider,
                region=region,
                fingerprint=str(pair.get("KeyFingerprint", "")),
            )

        return await self._call(region, ensure)

    async def delete_key_pair(self, region: str, name: str) -> None:
        def delete(ec2: Ec2) -> None:
            try:
                ec2.delete_key_pair(KeyName=name)
            except ClientError as exc:
                if _code(exc) != "InvalidKeyPair.NotFound":
                    raise

        await self._call(region, delete)

    # VMs

    def _vm(self, region: str, instance: dict[str, Any]) -> CloudVm:
        tags = _tags(instance.get("Tags"))
        state = str(instance.get("State", {}).get("Name", ""))
        reason = instance.get("StateReason") or {}
        failure = None
        if state in ("stopped", "terminated", "shutting-down", "stopping") and str(
            reason.get("Code", "")
        ).startswith(FAILURE_REASON_PREFIXES):
            failure = str(reason.get("Message") or reason.get("Code"))
        # A batch's instances share its ClientToken: only their own tag names their VM's.
        launch_token = "" if TAG_BATCH_TOKEN in tags else str(instance.get("ClientToken", ""))
        return CloudVm(
            csp_id=instance["InstanceId"],
            name=tags.get("Name", instance["InstanceId"]),
            provider=self.provider,
            cloud=CLOUD,
            region=region,
            spec=str(instance.get("InstanceType", "")),
            image=str(instance.get("ImageId", "")),
            native_status=state,
            failure_reason=failure,
            public_ip=instance.get("PublicIpAddress"),
            private_ip=instance.get("PrivateIpAddress"),
            client_token=tags.get(TAG_CLIENT_TOKEN) or launch_token,
            tags=tags,
        )

    @staticmethod
    def _describe(ec2: Ec2, **kwargs: Any) -> list[dict[str, Any]]:
        instances: list[dict[str, Any]] = []
        for page in ec2.get_paginator("describe_instances").paginate(**kwargs):
            for reservation in page["Reservations"]:
                instances += reservation["Instances"]
        return instances

    def _instance(self, ec2: Ec2, csp_id: str) -> dict[str, Any] | None:
        try:
            found = self._describe(ec2, InstanceIds=[csp_id])
        except ClientError as exc:
            if _code(exc) in NOT_FOUND_INSTANCE_CODES:
                return None
            raise
        return found[0] if found else None

    def _filtered(self, ec2: Ec2, name: str, values: Iterable[str]) -> list[dict[str, Any]]:
        """The instances whose filter `name` matches one of `values` (a filter, unlike
        InstanceIds, does not fail on an id EC2 does not know)."""
        found: list[dict[str, Any]] = []
        for chunk in _chunks(sorted(set(values))):
            found += self._describe(ec2, Filters=[{"Name": name, "Values": chunk}])
        return found

    def _made(self, ec2: Ec2, tokens: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The instance each client token already made (the earliest, if a race made two)."""
        by_token: dict[str, list[dict[str, Any]]] = {}
        for instance in self._filtered(ec2, f"tag:{TAG_CLIENT_TOKEN}", tokens):
            by_token.setdefault(_tags(instance.get("Tags"))[TAG_CLIENT_TOKEN], []).append(instance)
        return {token: _earliest(instances) for token, instances in by_token.items()}

    async def create_vm(self, region: str, request: VmCreateRequest) -> CloudVm:
        def create(ec2: Ec2) -> dict[str, Any]:
            token = request.client_token
            made = self._made(ec2, [token]).get(token)
            if made is not None:
                return made
            params = launch_params(request, 1, token, vm_tags(request))
            instance: dict[str, Any] = ec2.run_instances(**params)["Instances"][0]
            return instance

        return self._vm(region, await self._call(region, create))

    async def create_vms(
        self, region: str, requests: Sequence[VmCreateRequest]
    ) -> list[CloudVm | CloudError]:
        """BatchVmSource: one RunInstances (MinCount = MaxCount = n) per shape (`vm_shape`) of
        the VMs not made yet, then one CreateTags per new VM for its own tags.

        Idempotent per VM: the VMs already made are found by their `mcis-client-token` tag
        (whoever made them, create_vm or a batch). A batch's ClientToken is `batch_token` of its
        shape and the sorted client tokens of the VMs it makes; its instances carry that token
        as their `mcis-batch-token` tag from launch (TagSpecifications, with the tags all its
        VMs share), and its i-th instance by AmiLaunchIndex is the VM of the i-th of those
        sorted tokens. So a call repeated after a crash between RunInstances and the last
        CreateTags recovers every instance: by the batch token of its VMs still missing (none
        tagged yet: the same token), or, when some were tagged, by the batch tag of those (the
        batch's VMs are those tagged with it plus those still missing, which the batch token
        confirms). Should the instances of an unfinished batch not match this call's VMs (the
        call holds other VMs than the one that launched it), its VMs still missing are refused
        with ConflictError rather than made a second time.

        RunInstances makes all n instances or none, so EC2 has no per-VM refusal to report: a
        failed RunInstances raises (as create_vm would), after the VMs of the call's other
        shapes are made and tagged; a failed CreateTags raises too (the call repeated tags the
        instance it made)."""
        if not requests:
            return []
        by_token: dict[str, VmCreateRequest] = {}
        for request in requests:
            by_token.setdefault(request.client_token, request)
        found = await self._call(region, lambda ec2: self._made(ec2, by_token))
        shapes: dict[Shape, list[VmCreateRequest]] = {}
        for request in by_token.values():
            shapes.setdefault(vm_shape(request), []).append(request)

        def make(shape: Shape, group: list[VmCreateRequest]) -> Callable[[Ec2], _Made]:
            return lambda ec2: self._make(ec2, shape, group, found)

        made = await asyncio.gather(
            *(self._call(region, make(shape, group)) for shape, group in shapes.items()),
            return_exceptions=True,
        )
        claimed: dict[str, dict[str, Any]] = {}
        refused: dict[str, CloudError] = {}
        for outcome in made:
            if not isinstance(outcome, BaseException):
                claimed.update(outcome[0])
                refused.update(outcome[1])

        def tag(token: str, instance: dict[str, Any]) -> Callable[[Ec2], dict[str, Any]]:
            return lambda ec2: self._tag_vm(ec2, instance, by_token[token])

        tokens = sorted(claimed)
        tagged = await asyncio.gather(
            *(self._call(region, tag(t, claimed[t])) for t in tokens), return_exceptions=True
        )
        instances = dict(found)
        for outcome in made:
            if isinstance(outcome, BaseException):
                raise outcome
        for token, tagged_instance in zip(tokens, tagged, strict=True):
            if isinstance(tagged_instance, BaseException):
                raise tagged_instance
            instances[token] = tagged_instance
        return [
            self._vm(region, instances[r.client_token])
            if r.client_token in instances
            else refused[r.client_token]
            for r in requests
        ]

    def _make(
        self,
        ec2: Ec2,
        shape: Shape,
        group: list[VmCreateRequest],
        found: dict[str, dict[str, Any]],
    ) -> _Made:
        """The instances of `group`'s VMs not in `found`: recovered from an unfinished batch,
        or made now by one RunInstances (by token, not yet tagged); or the refusal of those
        VMs when an unfinished batch cannot be matched to them."""
        missing = {r.client_token: r for r in group if r.client_token not in found}
        claimed: dict[str, dict[str, Any]] = {}
        if not missing:
            return claimed, {}
        earlier = {
            _tags(found[r.client_token].get("Tags")).get(TAG_BATCH_TOKEN)
            for r in group
            if r.client_token in found
        }
        for batch in sorted(b for b in earlier if b):
            instances = self._filtered(ec2, f"tag:{TAG_BATCH_TOKEN}", [batch])
            if all(TAG_CLIENT_TOKEN in _tags(i.get("Tags")) for i in instances):
                continue  # finished: all its VMs carry their own tags
            matched = self._match(shape, batch, instances, missing)
            if matched is None:
                return claimed, self._mismatch(batch, missing)
            claimed.update(matched)
            missing = {t: r for t, r in missing.items() if t not in matched}
        if not missing:
            return claimed, {}
        batch = batch_token(shape, missing)
        instances = self._filtered(ec2, f"tag:{TAG_BATCH_TOKEN}", [batch])
        if not instances:
            first = missing[min(missing)]
            tags = {**shared_tags(list(missing.values())), TAG_BATCH_TOKEN: batch}
            params = launch_params(first, len(missing), batch, tags)
            instances = ec2.run_instances(**params)["Instances"]
        matched = self._match(shape, batch, instances, missing)
        if matched is None:
            return claimed, self._mismatch(batch, missing)
        claimed.update(matched)
        return claimed, {}

    @staticmethod
    def _match(
        shape: Shape,
        batch: str,
        instances: Sequence[dict[str, Any]],
        missing: dict[str, VmCreateRequest],
    ) -> dict[str, dict[str, Any]] | None:
        """The instances of `batch` that are VMs of `missing`, by token; None when the batch's
        VMs (those it tagged, plus `missing`) do not hash to its token or fill it otherwise."""
        ordered = _launch_order(instances)
        own = [_tags(i.get("Tags")).get(TAG_CLIENT_TOKEN) for i in ordered]
        members = sorted({t for t in own if t} | set(missing))
        if len(members) != len(ordered) or batch_token(shape, members) != batch:
            return None
        if any(token and token != members[k] for k, token in enumerate(own)):
            return None
        return {members[k]: i for k, i in enumerate(ordered) if members[k] in missing}

    def _mismatch(self, batch: str, missing: dict[str, VmCreateRequest]) -> dict[str, CloudError]:
        error = ConflictError(
            f"{self._what}: the instances of batch {batch} are not all tagged and do not match "
            "the VMs of this call: not creating them again",
            "BatchMismatch",
        )
        return dict.fromkeys(missing, error)

    @staticmethod
    def _tag_vm(ec2: Ec2, instance: dict[str, Any], request: VmCreateRequest) -> dict[str, Any]:
        """The instance with its VM's own tags (CreateTags unless it has them already)."""
        tags = vm_tags(request)
        have = _tags(instance.get("Tags"))
        if any(have.get(k) != v for k, v in tags.items()):
            ec2.create_tags(Resources=[instance["InstanceId"]], Tags=_tag_list(tags))
        return {**instance, "Tags": _tag_list({**have, **tags})}

    async def get_vm(self, region: str, csp_id: str) -> CloudVm | None:
        found = await self._call(region, lambda ec2: self._instance(ec2, csp_id))
        return None if found is None else self._vm(region, found)

    async def list_vms(self, region: str, tags: dict[str, str] | None = None) -> list[CloudVm]:
        filters = _tag_filters(tags or {})
        found = await self._call(region, lambda ec2: self._describe(ec2, Filters=filters))
        return [self._vm(region, i) for i in found]

    def _do_action(self, ec2: Ec2, csp_id: str, action: VmAction) -> dict[str, Any]:
        getattr(ec2, ACTION_CALLS[action])(InstanceIds=[csp_id])
        found = self._instance(ec2, csp_id)
        if found is None:
            raise CloudNotFoundError(
                f"{self._what}: instance {csp_id} not found", "InvalidInstanceID.NotFound"
            )
        return found

    async def terminate_vm(self, region: str, csp_id: str) -> None:
        def terminate(ec2: Ec2) -> None:
            try:
                ec2.terminate_instances(InstanceIds=[csp_id])
            except ClientError as exc:
                if _code(exc) not in NOT_FOUND_INSTANCE_CODES:
                    raise

        await self._call(region, terminate)

    async def act_on_vms(
        self, region: str, action: VmAction, csp_ids: Sequence[str]
    ) -> list[CloudVm | CloudError | None]:
        """BatchVmSource: one Stop/Start/Reboot/TerminateInstances for every id, then one read.

        EC2 refuses such a call whole when one id is wrong (unknown: InvalidInstanceID.NotFound,
        malformed, or in a state that forbids the action: IncorrectInstanceState), naming the
        ids in its message: those ids get that error (for terminate, an id EC2 does not know is
        gone: None, as terminate_vm then get_vm answer) and the call is sent again without them.
        An error naming none of the ids, or one a retry may cure, raises. Each VM is then as
        read right after (for terminate: None when EC2 no longer knows it)."""
        if not csp_ids:
            return []
        call = ACTION_CALLS[action]
        terminate = action is VmAction.TERMINATE
        unique = list(dict.fromkeys(csp_ids))

        def act(ec2: Ec2) -> tuple[dict[str, dict[str, Any]], dict[str, CloudError | None]]:
            refused: dict[str, CloudError | None] = {}
            todo = unique
            while todo:
                try:
                    getattr(ec2, call)(InstanceIds=todo)
                    break
                except ClientError as exc:
                    error = cloud_error(exc, self._what)
                    named = ids_named(str(exc.response.get("Error", {}).get("Message", "")), todo)
                    if error.retryable or not named:
                        raise
                    gone = terminate and _code(exc) in NOT_FOUND_INSTANCE_CODES
                    refused.update(dict.fromkeys(named, None if gone else error))
                    todo = [i for i in todo if i not in refused]
            read = self._filtered(ec2, "instance-id", [i for i in unique if i not in refused])
            return {i["InstanceId"]: i for i in read}, refused

        seen, refused = await self._call(region, act)
        answers: list[CloudVm | CloudError | None] = []
        for csp_id in csp_ids:
            if csp_id in refused:
                answers.append(refused[csp_id])
            elif csp_id in seen:
                answers.append(self._vm(region, seen[csp_id]))
            elif terminate:
                answers.append(None)
            else:
                answers.append(
                    CloudNotFoundError(
                        f"{self._what}: instance {csp_id} not found", "InvalidInstanceID.NotFound"
                    )
                )
        return answers
