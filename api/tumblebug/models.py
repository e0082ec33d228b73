"""The JSON shapes of CB-Tumblebug 0.3 (`../shared/notes/tumblebug-api.md`), field for field:
request bodies (unknown fields ignored, as Tumblebug's Go decoder does) and replies. Field names
are the wire names (`connectionName`, `IPv4_CIDR`, `num_vCPU`, ...), so no alias can drift."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from catalog.entries import CatalogId

NONE = "None"
"""`targetAction` / `targetStatus` when nothing is pending."""


class Body(BaseModel):
    """A request body: fields Tumblebug 0.3 does not know are ignored, as its server does."""

    model_config = ConfigDict(extra="ignore")


class KeyValue(BaseModel):
    Key: str
    Value: str = ""


class Message(BaseModel):
    message: str


# --- namespaces ------------------------------------------------------------------------------


class NsReq(Body):
    name: str = Field(min_length=1)
    description: str = ""


class NsInfo(BaseModel):
    id: str
    name: str
    description: str


class NsList(BaseModel):
    ns: list[NsInfo]


# --- MCIR -------------------------------------------------------------------------------------


class SubnetInfo(Body):
    Name: str = Field(min_length=1)
    IPv4_CIDR: str = Field(min_length=1)


class VNetReq(Body):
    name: str = Field(min_length=1)
    connectionName: str = Field(min_length=1)
    cidrBlock: str = ""
    subnetInfoList: list[SubnetInfo] = Field(default_factory=list)
    description: str = ""


class VNetInfo(BaseModel):
    id: str
    name: str
    connectionName: str
    cidrBlock: str
    subnetInfoList: list[SubnetInfo]
    description: str
    cspVNetId: str
    cspVNetName: str
    status: str = ""
    keyValueList: list[KeyValue] = Field(default_factory=list)


class FirewallRuleInfo(Body):
    FromPort: str = ""
    ToPort: str = ""
    IPProtocol: str = Field(min_length=1)
    Direction: str = "inbound"


class SecurityGroupReq(Body):
    name: str = Field(min_length=1)
    connectionName: str = Field(min_length=1)
    vNetId: str = Field(min_length=1)
    description: str = ""
    firewallRules: list[FirewallRuleInfo] = Field(default_factory=list)


class SecurityGroupInfo(BaseModel):
    id: str
    name: str
    connectionName: str
    vNetId: str
    description: str
    firewallRules: list[FirewallRuleInfo]
    cspSecurityGroupId: str
    cspSecurityGroupName: str
    keyValueList: list[KeyValue] = Field(default_factory=list)


class SshKeyReq(Body):
    name: str = Field(min_length=1)
    connectionName: str = Field(min_length=1)
    username: str = ""
    description: str = ""


class SshKeyInfo(BaseModel):
    id: str
    name: str
    connectionName: str
    description: str
    cspSshKeyName: str
    fingerprint: str
    username: str
    verifiedUsername: str = ""
    publicKey: str
    privateKey: str
    keyValueList: list[KeyValue] = Field(default_factory=list)


class ImageReq(Body):
    """`?action=registerWithInfo` (every field) or `registerWithId` (the first three)."""

    connectionName: str = Field(min_length=1)
    name: str = Field(min_length=1)
    cspImageId: str = Field(min_length=1)
    cspImageName: str = ""
    creationDate: str = ""
    description: str = ""
    guestOS: str = ""
    status: str = ""
    keyValueList: list[KeyValue] = Field(default_factory=list)


class ImageInfo(BaseModel):
    id: str
    name: str
    connectionName: str
    cspImageId: str
    cspImageName: str
    creationDate: str
    description: str
    guestOS: str
    status: str
    keyValueList: list[KeyValue] = Field(default_factory=list)


class SpecReq(Body):
    connectionName: str = Field(min_length=1)
    name: str = Field(min_length=1)
    cspSpecName: str = Field(min_length=1)
    description: str = ""


class SpecInfo(BaseModel):
    id: str
    name: str
    connectionName: str
    cspSpecName: str
    os_type: str = ""
    num_vCPU: int
    num_core: int = 0
    mem_GiB: float
    mem_MiB: int
    storage_GiB: int = 0
    description: str
    cost_per_hour: float


class KeptResource(BaseModel):
    """What the MCIR API keeps of a vNet, security group or SSH key beyond mcis's record."""

    name: str
    connectionName: str
    description: str = ""
    subnetInfoList: list[SubnetInfo] = Field(default_factory=list)
    username: str = ""


class KeptImage(BaseModel):
    """A registered image: as Tumblebug shows it, and the catalog image it names."""

    info: ImageInfo
    catalog_id: CatalogId


class KeptSpec(BaseModel):
    """A registered spec: as Tumblebug shows it, and the catalog spec it names."""

    info: SpecInfo
    catalog_id: CatalogId


class VNetList(BaseModel):
    vNet: list[VNetInfo]


class SecurityGroupList(BaseModel):
    securityGroup: list[SecurityGroupInfo]


class SshKeyList(BaseModel):
    sshKey: list[SshKeyInfo]


class ImageList(BaseModel):
    image: list[ImageInfo]


class SpecList(BaseModel):
    spec: list[SpecInfo]


# --- MCIS -------------------------------------------------------------------------------------


class VmReq(Body):
    """One `vm` entry of an MCIS create: one VM."""

    name: str = Field(min_length=1)
    connectionName: str = Field(min_length=1)
    specId: str = Field(min_length=1)
    imageId: str = Field(min_length=1)
    vNetId: str = Field(min_length=1)
    subnetId: str = ""
    securityGroupIds: list[str] = Field(min_length=1)
    sshKeyId: str = Field(min_length=1)
    vmUserAccount: str = ""
    vmUserPassword: str = ""
    description: str = ""
    label: str = ""


class KeptVm(BaseModel):
    """What the MCIS API keeps of one `vm` entry: the entry, and where its connection led."""

    entry: VmReq
    cloudType: str  # the connection's ProviderName in lower case (`location.cloudType`)
    zone: str = ""


class KeptMcis(BaseModel):
    """What the MCIS API keeps of an MCIS a Tumblebug client made (mcis's records hold the
    rest): its given name and fields, and its `vm` entries by Tumblebug VM id (= group)."""

    name: str
    installMonAgent: str = "no"
    label: str = ""
    placement_algo: str = ""
    vm: dict[str, KeptVm] = Field(default_factory=dict)


class McisReq(Body):
    name: str = Field(min_length=1)
    description: str = ""
    installMonAgent: str = "no"
    label: str = ""
    placement_algo: str = ""
    vm: list[VmReq] = Field(min_length=1)


class Location(BaseModel):
    latitude: float
    longitude: float
    briefAddr: str
    cloudType: str
    nativeRegion: str


class RegionZone(BaseModel):
    Region: str
    Zone: str


class VmInfo(BaseModel):
    id: str
    name: str
    connectionName: str
    specId: str
    imageId: str
    vNetId: str
    subnetId: str
    securityGroupIds: list[str]
    sshKeyId: str
    vmUserAccount: str
    location: Location
    region: RegionZone
    publicIP: str
    privateIP: str
    publicDNS: str = ""
    privateDNS: str = ""
    vmBootDisk: str = ""
    status: str
    targetStatus: str
    targetAction: str
    monAgentStatus: str = ""
    cspViewVmDetail: dict[str, Any] = Field(default_factory=dict)


class McisInfo(BaseModel):
    id: str
    name: str
    description: str
    label: str
    placement_algo: str
    installMonAgent: str
    status: str
    targetStatus: str
    targetAction: str
    vm: list[VmInfo]


class VmStatusInfo(BaseModel):
    id: str
    csp_vm_id: str
    name: str
    status: str
    targetStatus: str
    targetAction: str
    native_status: str
    public_ip: str
    location: Location
    monAgentStatus: str = ""


class McisStatusInfo(BaseModel):
    id: str
    name: str
    status: str
    targetStatus: str
    targetAction: str
    masterVmId: str
    masterIp: str
    installMonAgent: str
    vm: list[VmStatusInfo]


class McisList(BaseModel):
    mcis: list[McisInfo]


class McisStatusList(BaseModel):
    mcis: list[McisStatusInfo]


class McisStatusReply(BaseModel):
    status: McisStatusInfo


# --- remote command ---------------------------------------------------------------------------


class CmdReq(Body):
    command: str = Field(min_length=1)


class CmdResult(BaseModel):
    mcis_id: str
    vm_id: str
    vm_ip: str
    result: str


class CmdReply(BaseModel):
    result_array: list[CmdResult]
