"""An in-memory CloudDriver for workflow unit tests (a test double: never used by the demo or
end-to-end tests). VMs boot after a number of polls; faults are injected deterministically."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from catalog.entries import Image, Region, Spec
from drivers.errors import PermanentCloudError, QuotaExceededError, TransientCloudError
from models.cloud import (
    CloudKeyPair,
    CloudSecurityGroup,
    CloudVm,
    CloudVNet,
    FirewallRule,
    SubnetSpec,
    VmCreateRequest,
)

GONE = "(gone)"
NATIVE = {
    "aws": {
        "booting": "pending",
        "running": "running",
        "stopping": "stopping",
        "stopped": "stopped",
        "terminating": "shutting-down",
        "terminated": "terminated",
        "failed": "terminated",
    },
    "gcp": {
        "booting": "PROVISIONING",
        "running": "RUNNING",
        "stopping": "STOPPING",
        "stopped": "TERMINATED",
        "terminating": "STOPPING",
        "terminated": GONE,
        "failed": "TERMINATED",
    },
}


@dataclass(frozen=True)
class CreateCall:
    """One create_vm call as the cloud saw it: the token, the VM it named, and the VM that
    answered (`csp_id`, "" when the call was refused); `found` is the phase of an existing VM
    the token matched (None: a new VM was made or none was)."""

    client_token: str
    name: str
    csp_id: str
    found: str | None


TERMINATE_REFUSED = "OperationNotPermitted"  # code of an injected terminate failure


@dataclass
class FakeCloud:
    """Shared state of the fake clouds of one test."""

    boot_polls: int = 1
    stop_polls: int = 0  # polls a suspend spends in "stopping" (0: stopped at once)
    fail_names: set[str] = field(default_factory=set)  # cloud VM names whose boot fails
    fail_first_attempt_only: bool = True
    transient_every: int = 0  # every n-th create raises a transient error after creating
    quota: int | None = None
    vms: dict[str, CloudVm] = field(default_factory=dict)
    polls: dict[str, int] = field(default_factory=dict)
    vnets: dict[str, CloudVNet] = field(default_factory=dict)
    groups: dict[str, CloudSecurityGroup] = field(default_factory=dict)
    keys: dict[str, CloudKeyPair] = field(default_factory=dict)
    create_calls: int = 0
    create_log: list[CreateCall] = field(default_factory=list)  # every create_vm call, in order
    fail_terminate_ids: set[str] = field(default_factory=set)  # terminates of these always fail
    fail_terminates: int = 0  # the next n terminate calls fail (then terminates work again)
    terminate_calls: int = 0
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    phase: dict[str, str] = field(default_factory=dict)

    def live_vms(self) -> list[str]:
        """Ids of VMs not terminated (failed ones count: they hold quota until terminated)."""
        return [i for i, p in self.phase.items() if p not in ("terminating", "terminated")]


class FakeDriver:
    """Speaks the native states of aws or gcp (NATIVE)."""

    def __init__(self, provider: str, cloud: FakeCloud) -> None:
        self.provider = provider
        self._cloud = cloud

    async def regions(self) -> list[Region]:
        return [Region(provider=self.provider, name="r1", latitude=0.0, longitude=0.0)]

    async def specs(self, region: str | None = None) -> list[Spec]:
        return [
            Spec(
                provider=self.provider,
                region="r1",
                name="small",
                vcpus=1,
                memory_gib=1,
                price_per_hour=0.01,
            )
        ]

    async def images(self, region: str | None = None) -> list[Image]:
        return [Image(provider=self.provider, region="r1", name="ubuntu")]

    async def ensure_vnet(
        self,
        region: str,
        name: str,
        cidr: str,
        subnets: Sequence[SubnetSpec],
        tags: dict[str, str],
    ) -> CloudVNet:
        key = f"{self.provider}/{region}/{name}"
        return self._cloud.vnets.setdefault(
            key,
            CloudVNet(
                csp_id=f"vnet-{key}",
                name=name,
                provider=self.provider,
                region=region,
                cidr=cidr,
                subnets={s.name: f"subnet-{key}-{s.name}" for s in subnets},
            ),
        )

    async def delete_vnet(self, region: str, csp_id: str) -> None:
        self._cloud.vnets = {k: v for k, v in self._cloud.vnets.items() if v.csp_id != csp_id}

    async def ensure_security_group(
        self,
        region: str,
        name: str,
        vnet_csp_id: str,
        rules: Sequence[FirewallRule],
        tags: dict[str, str],
    ) -> CloudSecurityGroup:
        key = f"{self.provider}/{region}/{name}"
        return self._cloud.groups.setdefault(
            key,
            CloudSecurityGroup(
                csp_id=f"sg-{key}",
                name=name,
                provider=self.provider,
                region=region,
                vnet_csp_id=vnet_csp_id,
                rules=list(rules),
            ),
        )

    async def delete_security_group(self, region: str, csp_id: str) -> None:
        self._cloud.groups = {k: v for k, v in self._cloud.groups.items() if v.csp_id != csp_id}

    async def import_key_pair(
        self, region: str, name: str, public_key: str, tags: dict[str, str]
    ) -> CloudKeyPair:
        key = f"{self.provider}/{region}/{name}"
        return self._cloud.keys.setdefault(
            key,
            CloudKeyPair(
                name=name, provider=self.provider, region=region, fingerprint=str(hash(public_key))
            ),
        )

    async def delete_key_pair(self, region: str, name: str) -> None:
        self._cloud.keys.pop(f"{self.provider}/{region}/{name}", None)

    async def create_vm(self, region: str, request: VmCreateRequest) -> CloudVm:
        cloud = self._cloud
        cloud.create_calls += 1
        for csp_id, vm in cloud.vms.items():
            if vm.client_token == request.client_token:
                cloud.create_log.append(
                    CreateCall(request.client_token, request.name, csp_id, cloud.phase[csp_id])
                )
                return self._view(csp_id)
        if cloud.quota is not None and len(cloud.live_vms()) >= cloud.quota:
            cloud.create_log.append(CreateCall(request.client_token, request.name, "", None))
            raise QuotaExceededError(f"quota of {cloud.quota} VMs reached in {region}")
        csp_id = f"i-{next(cloud.ids)}"
        cloud.vms[csp_id] = CloudVm(
            csp_id=csp_id,
            name=request.name,
            provider=self.provider,
            region=region,
            spec=request.spec,
            image=request.image,
            native_status="",
            tags=request.tags,
            client_token=request.client_token,
        )
        cloud.phase[csp_id] = "booting"
        cloud.polls[csp_id] = 0
        cloud.create_log.append(CreateCall(request.client_token, request.name, csp_id, None))
        if cloud.transient_every and cloud.create_calls % cloud.transient_every == 0:
            raise TransientCloudError("response lost after the VM was created")
        return self._view(csp_id)

    def _view(self, csp_id: str) -> CloudVm:
        """The VM as the cloud shows it now, in this provider's native words."""
        phase = self._cloud.phase[csp_id]
        native, reason = NATIVE[self.provider][phase], None
        if phase == "failed":
            reason = "Server.InternalError"
        vm = self._cloud.vms[csp_id]
        ip = f"127.0.9.{csp_id[2:]}" if phase == "running" else None  # loopback: never elsewhere
        return vm.model_copy(
            update={"native_status": native, "failure_reason": reason, "public_ip": ip}
        )

    def _advance(self, csp_id: str) -> CloudVm | None:
        cloud = self._cloud
        cloud.polls[csp_id] += 1
        phase = cloud.phase[csp_id]
        if phase == "booting" and cloud.polls[csp_id] >= cloud.boot_polls:
            name = cloud.vms[csp_id].name
            failing = name in cloud.fail_names
            if failing and cloud.fail_first_attempt_only:
                cloud.fail_names.discard(name)
            cloud.phase[csp_id] = "failed" if failing else "running"
        elif phase == "terminating":
            cloud.phase[csp_id] = "terminated"
        elif phase == "stopping" and cloud.polls[csp_id] >= cloud.stop_polls:
            cloud.phase[csp_id] = "stopped"
        view = self._view(csp_id)
        return None if view.native_status == GONE else view

    async def get_vm(self, region: str, csp_id: str) -> CloudVm | None:
        return self._advance(csp_id) if csp_id in self._cloud.vms else None

    async def list_vms(self, region: str, tags: dict[str, str] | None = None) -> list[CloudVm]:
        wanted = (tags or {}).items()
        seen = [
            self._advance(csp_id)
            for csp_id, vm in list(self._cloud.vms.items())
            if vm.provider == self.provider and vm.region == region and wanted <= vm.tags.items()
        ]
        return [vm for vm in seen if vm is not None]

    async def _set(self, csp_id: str, phase: str) -> CloudVm:
        self._cloud.phase[csp_id] = phase
        return self._view(csp_id)

    async def suspend_vm(self, region: str, csp_id: str) -> CloudVm:
        self._cloud.polls[csp_id] = 0
        return await self._set(csp_id, "stopping" if self._cloud.stop_polls else "stopped")

    async def resume_vm(self, region: str, csp_id: str) -> CloudVm:
        return await self._set(csp_id, "running")

    async def reboot_vm(self, region: str, csp_id: str) -> CloudVm:
        return await self._set(csp_id, "running")

    async def terminate_vm(self, region: str, csp_id: str) -> None:
        cloud = self._cloud
        cloud.terminate_calls += 1
        failing = csp_id in cloud.fail_terminate_ids or cloud.fail_terminates > 0
        if failing:
            if csp_id not in cloud.fail_terminate_ids:
                cloud.fail_terminates -= 1
            raise PermanentCloudError(
                f"terminate of {csp_id} refused by the cloud", code=TERMINATE_REFUSED
            )
        if self._cloud.phase.get(csp_id) not in (None, "terminated"):
            await self._set(csp_id, "terminating")

    async def aclose(self) -> None:
        return None
