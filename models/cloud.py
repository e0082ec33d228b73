"""What a cloud reports back: VMs, vNets, security groups and key pairs as the cloud sees them,
and the requests a driver takes. Contracts between drivers, activities and workflows.
No secret is ever part of these models.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class SubnetSpec(BaseModel):
    name: str
    cidr: str


class FirewallRule(BaseModel):
    direction: str = "inbound"  # inbound | outbound
    protocol: str = "tcp"  # tcp | udp | icmp | all
    from_port: int = 22
    to_port: int = 22
    cidr: str = "0.0.0.0/0"


DEFAULT_RULES: tuple[FirewallRule, ...] = (
    FirewallRule(protocol="tcp", from_port=22, to_port=22),
    FirewallRule(protocol="tcp", from_port=80, to_port=80),
    FirewallRule(protocol="icmp", from_port=-1, to_port=-1),
)
"""Rules of a shared security group: SSH (as the reference), HTTP for apps, ICMP for RTT."""


class CloudVNet(BaseModel):
    csp_id: str
    name: str
    provider: str
    region: str
    cidr: str
    subnets: dict[str, str] = Field(default_factory=dict)  # subnet name -> csp id
    tags: dict[str, str] = Field(default_factory=dict)


class CloudSecurityGroup(BaseModel):
    csp_id: str
    name: str
    provider: str
    region: str
    vnet_csp_id: str
    rules: list[FirewallRule] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)


class CloudKeyPair(BaseModel):
    name: str
    provider: str
    region: str
    fingerprint: str


class VmCreateRequest(BaseModel):
    """Everything a cloud needs to create one VM; `client_token` makes the call idempotent."""

    name: str
    spec: str  # the cloud's own instance type name, e.g. t3.medium
    image: str  # the cloud's own image name
    vnet_csp_id: str
    subnet_csp_id: str
    security_group_csp_ids: list[str]
    key_name: str
    client_token: str
    tags: dict[str, str] = Field(default_factory=dict)


class VmAction(StrEnum):
    """An action on an existing VM, as a batch call names it (one action for many VMs)."""

    SUSPEND = "suspend"
    RESUME = "resume"
    REBOOT = "reboot"
    TERMINATE = "terminate"


class CloudVm(BaseModel):
    """One VM as its cloud reports it, with the cloud's native status string."""

    csp_id: str
    name: str
    provider: str  # the connection the VM was reached through (e.g. aws, or my-aws-account)
    region: str
    spec: str
    image: str
    native_status: str
    cloud: str = ""  # which cloud's native states `native_status` speaks (default: provider)
    failure_reason: str | None = None
    public_ip: str | None = None
    private_ip: str | None = None
    client_token: str = ""
    tags: dict[str, str] = Field(default_factory=dict)


class VmMetrics(BaseModel):
    """A VM's utilisation as its cloud's monitoring reports it (zeros where nothing runs)."""

    cpu_percent: float  # of the VM's vCPU allocation, over the last sampling window
    memory_mib: float
    memory_percent: float  # of the spec's memory
    net_rx_bytes: int
    net_tx_bytes: int
    sampled_at: datetime
