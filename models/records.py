"""Records the store keeps, as plain pydantic contracts (the store maps them to its tables).
Secrets are never fields here: a record holds a `secret_ref` the store resolves on demand."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from models.status import VmStatus


class ResourceKind(StrEnum):
    VNET = "vnet"
    SECURITY_GROUP = "security_group"
    SSH_KEY = "ssh_key"


class NamespaceRecord(BaseModel):
    name: str
    description: str = ""
    created_at: datetime | None = None


class ResourceRecord(BaseModel):
    """A vNet, security group or SSH key registered in a namespace (MCIR)."""

    namespace: str
    kind: ResourceKind
    name: str
    provider: str
    region: str
    csp_id: str  # vnet/sg: the cloud's id; ssh key: the key pair name at the cloud
    shared: bool = False  # created on demand for dynamic MCIS
    details: dict[str, Any] = Field(default_factory=dict)  # cidr, subnets, rules, fingerprint...
    secret_ref: str | None = None  # ssh key: reference of the encrypted private key
    created_at: datetime | None = None


class McisPhase(StrEnum):
    CREATING = "creating"
    ACTIVE = "active"
    DELETING = "deleting"
    FAILED = "failed"
    DELETED = "deleted"


class McisRecord(BaseModel):
    namespace: str
    name: str
    uid: str
    description: str = ""
    phase: McisPhase = McisPhase.CREATING
    request: dict[str, Any] = Field(default_factory=dict)  # the McisRequest as given
    created_at: datetime | None = None


class VmRecord(BaseModel):
    namespace: str
    mcis: str
    name: str  # `{group}-{n}`, unique in its MCIS
    group: str
    provider: str
    region: str
    spec: str  # catalog spec id
    image: str  # catalog image id
    client_token: str
    attempt: int = 0
    serial: int = 0  # never reused in the MCIS's life; 0: planned before serials (release 0.1)
    csp_id: str | None = None
    status: VmStatus = VmStatus.CREATING
    native_status: str | None = None
    public_ip: str | None = None
    private_ip: str | None = None
    error: str | None = None
    vnet: str = ""  # resource names in the namespace
    security_groups: list[str] = Field(default_factory=list)
    ssh_key: str = ""
    updated_at: datetime | None = None
    created_at: datetime | None = None  # when its create last returned (listings may lag it)
    listed: bool = False  # a listing of its region has shown it since its create returned
