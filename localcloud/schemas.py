"""Request bodies the local cloud's API accepts, validated with pydantic (unknown fields,
bad CIDRs, overlapping subnets and out-of-range rates are rejected before anything is stored).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

MIN_PREFIX, MAX_PREFIX = 16, 28


def _network(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IPv4 network in CIDR form: {exc}") from exc
    return str(network)


Name = Annotated[str, Field(min_length=1, max_length=255)]
Cidr = Annotated[str, AfterValidator(_network)]
Rate = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[float, Field(ge=0.0)]
Tags = dict[str, str]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubnetBody(_Body):
    name: Name
    cidr: Cidr


class VnetBody(_Body):
    name: Name
    cidr: Cidr
    subnets: list[SubnetBody] = Field(default_factory=list)
    tags: Tags = Field(default_factory=dict)

    @model_validator(mode="after")
    def _subnets_fit(self) -> Self:
        vnet = ipaddress.IPv4Network(self.cidr)
        if not MIN_PREFIX <= vnet.prefixlen <= MAX_PREFIX:
            raise ValueError(f"vnet cidr {self.cidr} must be a /{MIN_PREFIX} to /{MAX_PREFIX}")
        seen: dict[str, ipaddress.IPv4Network] = {}
        for subnet in self.subnets:
            net = ipaddress.IPv4Network(subnet.cidr)
            if subnet.name in seen:
                raise ValueError(f"subnet name {subnet.name!r} is repeated")
            if not net.subnet_of(vnet) or net.prefixlen > MAX_PREFIX:
                raise ValueError(
                    f"subnet {subnet.name} ({net}) must be a /{MAX_PREFIX} or larger inside {vnet}"
                )
            clash = next((name for name, other in seen.items() if net.overlaps(other)), None)
            if clash is not None:
                raise ValueError(f"subnet {subnet.name} ({net}) overlaps subnet {clash}")
            seen[subnet.name] = net
        return self


class RuleBody(_Body):
    direction: Literal["inbound", "outbound"] = "inbound"
    protocol: Literal["tcp", "udp", "icmp", "all"] = "tcp"
    from_port: int = Field(default=22, ge=-1, le=65535)
    to_port: int = Field(default=22, ge=-1, le=65535)
    cidr: Cidr = "0.0.0.0/0"

    @model_validator(mode="after")
    def _ports_ordered(self) -> Self:
        if self.from_port > self.to_port:
            raise ValueError(f"from_port {self.from_port} is above to_port {self.to_port}")
        return self


class SecurityGroupBody(_Body):
    name: Name
    vnet_id: Name
    rules: list[RuleBody] = Field(default_factory=list)
    tags: Tags = Field(default_factory=dict)


class KeyPairBody(_Body):
    name: Name
    public_key: str | None = None  # None: the cloud generates the key pair
    tags: Tags = Field(default_factory=dict)


class VmBody(_Body):
    name: Name
    spec: Name
    image: Name
    vnet_id: Name
    subnet_id: Name
    security_group_ids: list[Name] = Field(min_length=1)
    key_name: Name
    client_token: str = ""  # empty: not idempotent, every call creates a VM
    tags: Tags = Field(default_factory=dict)


MAX_BATCH = 1000
"""VMs one batch request may name (the MCIS workflow sends up to 250)."""

VmActionName = Literal["suspend", "resume", "reboot", "terminate"]


class VmBatchBody(_Body):
    """`POST .../vms:batch`: create bodies, each checked as a `VmBody` on its own (one that
    is not valid is that VM's InvalidParameter, the others go on)."""

    vms: list[dict[str, Any]] = Field(max_length=MAX_BATCH)


class VmActionBody(_Body):
    """`POST .../vms:action`: one action for many VMs of the region."""

    action: VmActionName
    ids: list[Name] = Field(max_length=MAX_BATCH)


class FaultBody(_Body):
    flavor: Name
    region: Name = "*"
    api_error_rate: Rate = 0.0
    boot_failure_rate: Rate = 0.0
    quota: int | None = Field(default=None, ge=0)
    throttle_rate: Rate = 0.0
    retry_after_s: Seconds = 1.0


class TimingBody(_Body):
    flavor: Name = "*"
    boot_s: Seconds | None = None
    stop_s: Seconds | None = None
    start_s: Seconds | None = None
    reboot_s: Seconds | None = None
    terminate_s: Seconds | None = None


class SimulatedLoadBody(_Body):
    """CPU use phantom VMs report, for the VMs carrying every given tag (0 clears)."""

    tags: Tags = Field(default_factory=dict)
    cpu_percent: Annotated[float, Field(ge=0.0, le=100.0)]
