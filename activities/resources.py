"""MCIR activities: make sure a vNet, security group or SSH key exists at its cloud and in the
store (idempotently), resolve a static group's network, release shared resources."""

from __future__ import annotations

from functools import partial
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.cloud_calls import cloud_call, store_call
from activities.deps import ActivityDeps
from activities.ssh_keys import generate_private_key, public_key_of
from models.naming import TAG_NAMESPACE, cloud_resource_name, shared_resource_name
from models.operations import (
    EnsureSecurityGroupInput,
    EnsureSshKeyInput,
    EnsureVNetInput,
    NetworkRefs,
    ResourcePlace,
    ResourceRef,
    SharedNetworkRef,
    StaticNetworkInput,
    shared_network_refs,
)
from models.records import ResourceKind, ResourceRecord


def _missing(ns: str, kind: ResourceKind, name: str) -> ApplicationError:
    return ApplicationError(
        f"{kind.value} {name!r} does not exist in namespace {ns!r}",
        type="NotFound",
        non_retryable=True,
    )


def ssh_key_secret_ref(namespace: str, name: str) -> str:
    return f"ssh_key/{namespace}/{name}"


class ResourceActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps

    async def _resource(self, ns: str, kind: ResourceKind, name: str) -> ResourceRecord:
        found = await store_call(lambda: self._deps.store.get_resource(ns, kind, name))
        if found is None:
            raise _missing(ns, kind, name)
        return found

    async def _record(
        self,
        place: ResourcePlace,
        kind: ResourceKind,
        csp_id: str,
        details: dict[str, Any],
        secret_ref: str | None = None,
    ) -> ResourceRecord:
        """Save what the cloud answered for the resource at `place`."""
        record = ResourceRecord(
            namespace=place.namespace,
            kind=kind,
            name=place.name,
            provider=place.provider,
            region=place.region,
            csp_id=csp_id,
            shared=place.shared,
            details=details,
            secret_ref=secret_ref,
        )
        return await store_call(lambda: self._deps.store.upsert_resource(record))

    @activity.defn(name="ensure_vnet")
    async def ensure_vnet(self, inp: EnsureVNetInput) -> ResourceRecord:
        driver = self._deps.driver(inp.provider)
        vnet = await cloud_call(
            lambda: driver.ensure_vnet(
                inp.region,
                cloud_resource_name(inp.namespace, inp.name),
                inp.cidr,
                inp.subnets,
                {TAG_NAMESPACE: inp.namespace},
            )
        )
        details = {"cidr": vnet.cidr, "subnets": vnet.subnets}
        return await self._record(inp, ResourceKind.VNET, vnet.csp_id, details)

    @activity.defn(name="ensure_security_group")
    async def ensure_security_group(self, inp: EnsureSecurityGroupInput) -> ResourceRecord:
        vnet = await self._resource(inp.namespace, ResourceKind.VNET, inp.vnet)
        driver = self._deps.driver(inp.provider)
        group = await cloud_call(
            lambda: driver.ensure_security_group(
                inp.region,
                cloud_resource_name(inp.namespace, inp.name),
                vnet.csp_id,
                inp.rules,
                {TAG_NAMESPACE: inp.namespace},
            )
        )
        details = {"vnet": inp.vnet, "rules": [r.model_dump() for r in group.rules]}
        return await self._record(inp, ResourceKind.SECURITY_GROUP, group.csp_id, details)

    @activity.defn(name="ensure_ssh_key")
    async def ensure_ssh_key(self, inp: EnsureSshKeyInput) -> ResourceRecord:
        """The private key is made here and stored encrypted before the cloud hears of its
        public half, so a retry after any crash reuses the same key."""
        store = self._deps.store
        ref = ssh_key_secret_ref(inp.namespace, inp.name)
        if not await store_call(lambda: store.has_secret(ref)):
            private_key = generate_private_key()
            await store_call(lambda: store.put_secret(ref, private_key))
        public_key = public_key_of(await store_call(lambda: store.get_secret(ref)))
        driver = self._deps.driver(inp.provider)
        key_pair = await cloud_call(
            lambda: driver.import_key_pair(
                inp.region,
                cloud_resource_name(inp.namespace, inp.name),
                public_key,
                {TAG_NAMESPACE: inp.namespace},
            )
        )
        details = {"fingerprint": key_pair.fingerprint, "public_key": public_key}
        return await self._record(inp, ResourceKind.SSH_KEY, key_pair.name, details, ref)

    @activity.defn(name="static_network")
    async def static_network(self, inp: StaticNetworkInput) -> NetworkRefs:
        """Resolve a static group's vNet, subnet, security groups and key to cloud ids."""
        ns = inp.namespace
        vnet = await self._resource(ns, ResourceKind.VNET, inp.vnet)
        groups = [
            await self._resource(ns, ResourceKind.SECURITY_GROUP, name)
            for name in inp.security_groups
        ]
        key = await self._resource(ns, ResourceKind.SSH_KEY, inp.ssh_key)
        for resource in (vnet, *groups, key):
            if (resource.provider, resource.region) != (inp.provider, inp.region):
                raise ApplicationError(
                    f"group {inp.group!r} is in {inp.provider}/{inp.region} but "
                    f"{resource.kind.value} {resource.name!r} is in "
                    f"{resource.provider}/{resource.region}",
                    type="InvalidRequest",
                    non_retryable=True,
                )
        subnets: dict[str, str] = vnet.details.get("subnets", {})
        subnet_name = inp.subnet or next(iter(subnets), None)
        if subnet_name is None or subnet_name not in subnets:
            raise ApplicationError(
                f"vnet {vnet.name!r} has no subnet {inp.subnet or ''!r}".replace(" ''", ""),
                type="NotFound",
                non_retryable=True,
            )
        return NetworkRefs(
            provider=inp.provider,
            region=inp.region,
            vnet=vnet.name,
            vnet_csp_id=vnet.csp_id,
            subnet_csp_id=subnets[subnet_name],
            security_groups=[g.name for g in groups],
            security_group_csp_ids=[g.csp_id for g in groups],
            ssh_key=key.name,
            key_csp_name=key.csp_id,
        )

    @activity.defn(name="delete_resource")
    async def delete_resource(self, ref: ResourceRef) -> bool:
        """Delete one resource at its cloud and in the store; False if it was already gone.
        Refused (non-retryable) while an MCIS uses it."""
        store = self._deps.store
        record = await store_call(lambda: store.get_resource(ref.namespace, ref.kind, ref.name))
        if record is None:
            return False
        users = await store_call(lambda: store.resource_users(ref.namespace, ref.kind, ref.name))
        if users:
            raise ApplicationError(
                f"{ref.kind.value} {ref.name!r} is in use by MCIS {', '.join(sorted(users))}",
                type="InUse",
                non_retryable=True,
            )
        driver = self._deps.driver(record.provider)
        if ref.kind is ResourceKind.VNET:
            await cloud_call(lambda: driver.delete_vnet(record.region, record.csp_id))
        elif ref.kind is ResourceKind.SECURITY_GROUP:
            await cloud_call(lambda: driver.delete_security_group(record.region, record.csp_id))
        else:
            await cloud_call(lambda: driver.delete_key_pair(record.region, record.csp_id))
        await store_call(lambda: store.delete_resource(ref.namespace, ref.kind, ref.name))
        return True

    @activity.defn(name="ensure_shared_network")
    async def ensure_shared_network(self, ref: SharedNetworkRef) -> NetworkRefs:
        """A region's shared vNet, security group and key for dynamic MCIS, each made if
        missing (the three steps above, in one activity: one per region)."""
        name = shared_resource_name(ref.provider, ref.region)
        place = ResourcePlace(
            namespace=ref.namespace,
            name=name,
            provider=ref.provider,
            region=ref.region,
            shared=True,
        )
        vnet = await self.ensure_vnet(EnsureVNetInput(**place.model_dump()))
        group = await self.ensure_security_group(
            EnsureSecurityGroupInput(**place.model_dump(), vnet=name)
        )
        key = await self.ensure_ssh_key(EnsureSshKeyInput(**place.model_dump()))
        return shared_network_refs(ref.provider, ref.region, vnet, group, key)

    @activity.defn(name="release_shared_network")
    async def release_shared_network(self, ref: SharedNetworkRef) -> bool:
        """Delete a region's shared key, security group and vNet once no MCIS uses them.
        True when released (or already gone), False when still in use."""
        store = self._deps.store
        name = shared_resource_name(ref.provider, ref.region)
        for kind in ResourceKind:
            if await store_call(partial(store.resource_users, ref.namespace, kind, name)):
                return False
        for kind in (ResourceKind.SSH_KEY, ResourceKind.SECURITY_GROUP, ResourceKind.VNET):
            await self.delete_resource(ResourceRef(namespace=ref.namespace, kind=kind, name=name))
        return True
