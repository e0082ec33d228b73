"""Network and access resources of the local cloud: vNets (with subnets), security groups and
key pairs. Creation is idempotent by name (the same settings again return the existing one,
other settings are a Conflict); deletion is refused while a live VM (or, for a vNet, a security
group) uses the resource. Generated key pairs are real ed25519 keys; the private key leaves the
cloud once, in the answer to the request that made it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import cast

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from localcloud.errors import conflict, invalid, not_found
from localcloud.schemas import KeyPairBody, SecurityGroupBody, VnetBody
from localcloud.state import CloudState, KeyPair, Rule, SecurityGroup, Subnet, Vnet, new_id


def generate_key_pair() -> tuple[str, str]:
    """A new ed25519 key pair: (OpenSSH private key PEM, OpenSSH public key line)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, public.decode()


def normalized_public_key(text: str) -> str:
    """`type base64` of an OpenSSH public key line (comment dropped); InvalidParameter if bad."""
    try:
        key = serialization.load_ssh_public_key(text.strip().encode())
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise invalid(f"public_key is not an OpenSSH public key: {exc}") from exc
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def fingerprint(public_key: str) -> str:
    """SHA256 fingerprint as `ssh-keygen -l` prints it."""
    blob = base64.b64decode(public_key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


class Resources:
    def __init__(self, store: CloudState, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock

    # vNets

    def ensure_vnet(self, flavor: str, region: str, body: VnetBody) -> tuple[Vnet, bool]:
        """The vNet named `body.name`, created if new (True)."""
        wanted = {s.name: s.cidr for s in body.subnets}
        existing = self._store.vnet_by_name(flavor, region, body.name)
        if existing is not None:
            have = {s["name"]: s["cidr"] for s in existing.subnets}
            if (existing.cidr, have) != (body.cidr, wanted):
                raise conflict(
                    f"vnet {body.name!r} exists as {existing.id} with cidr {existing.cidr} "
                    f"and subnets {have}"
                )
            return existing, False
        subnets = [Subnet(id=new_id("subnet"), name=n, cidr=c) for n, c in wanted.items()]
        vnet = Vnet(
            new_id("vnet"), flavor, region, body.name, body.cidr, subnets, body.tags, self._clock()
        )
        self._store.add_vnet(vnet)
        return vnet, True

    def vnet(self, flavor: str, region: str, vnet_id: str) -> Vnet:
        vnet = self._store.vnet(flavor, region, vnet_id)
        if vnet is None:
            raise not_found(f"vnet {vnet_id} not found in {flavor} {region}")
        return vnet

    def delete_vnet(self, flavor: str, region: str, vnet_id: str) -> None:
        self.vnet(flavor, region, vnet_id)
        user = self._store.live_vm_using(self._clock(), vnet_id=vnet_id)
        if user is not None:
            raise conflict(f"vnet {vnet_id} is in use by VM {user}")
        if self._store.vnet_has_security_groups(vnet_id):
            raise conflict(f"vnet {vnet_id} still has security groups")
        self._store.delete_vnet(vnet_id)

    # security groups

    def ensure_security_group(
        self, flavor: str, region: str, body: SecurityGroupBody
    ) -> tuple[SecurityGroup, bool]:
        """The security group named `body.name`, created if new (True)."""
        if self._store.vnet(flavor, region, body.vnet_id) is None:
            raise invalid(f"vnet {body.vnet_id!r} does not exist in {flavor} {region}")
        rules = [cast(Rule, rule.model_dump()) for rule in body.rules]
        existing = self._store.security_group_by_name(flavor, region, body.name)
        if existing is not None:
            if (existing.vnet_id, existing.rules) != (body.vnet_id, rules):
                raise conflict(
                    f"security group {body.name!r} exists as {existing.id} "
                    f"in vnet {existing.vnet_id} with other rules"
                )
            return existing, False
        group = SecurityGroup(
            new_id("sg"), flavor, region, body.name, body.vnet_id, rules, body.tags, self._clock()
        )
        self._store.add_security_group(group)
        return group, True

    def security_group(self, flavor: str, region: str, group_id: str) -> SecurityGroup:
        group = self._store.security_group(flavor, region, group_id)
        if group is None:
            raise not_found(f"security group {group_id} not found in {flavor} {region}")
        return group

    def delete_security_group(self, flavor: str, region: str, group_id: str) -> None:
        self.security_group(flavor, region, group_id)
        user = self._store.live_vm_using(self._clock(), security_group_id=group_id)
        if user is not None:
            raise conflict(f"security group {group_id} is in use by VM {user}")
        self._store.delete_security_group(group_id)

    # key pairs

    def create_key_pair(
        self, flavor: str, region: str, body: KeyPairBody
    ) -> tuple[KeyPair, str | None, bool]:
        """Import `body.public_key` (the same key again returns the pair) or, without one,
        generate a pair. Returns the pair, the private key (only when generated now) and
        whether the pair is new."""
        existing = self._store.key_pair(flavor, region, body.name)
        if body.public_key is None:
            if existing is not None:
                raise conflict(
                    f"key pair {body.name!r} exists; its private key was only returned "
                    "when it was created"
                )
            private_key, public_key = generate_key_pair()
        else:
            private_key, public_key = None, normalized_public_key(body.public_key)
            if existing is not None:
                if existing.public_key != public_key:
                    raise conflict(f"key pair {body.name!r} exists with another public key")
                return existing, None, False
        key = KeyPair(
            id=new_id("key"),
            flavor=flavor,
            region=region,
            name=body.name,
            public_key=public_key,
            fingerprint=fingerprint(public_key),
            tags=body.tags,
            created_at=self._clock(),
        )
        self._store.add_key_pair(key)
        return key, private_key, True

    def delete_key_pair(self, flavor: str, region: str, name: str) -> None:
        if self._store.key_pair(flavor, region, name) is None:
            raise not_found(f"key pair {name} not found in {flavor} {region}")
        user = self._store.live_vm_using(self._clock(), key=(flavor, region, name))
        if user is not None:
            raise conflict(f"key pair {name} is in use by VM {user}")
        self._store.delete_key_pair(flavor, region, name)
