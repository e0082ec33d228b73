"""Naming rules shared by namespaces, resources, MCIS, groups and VMs, and the derived names
(cloud-side VM names, shared-resource names, idempotency tokens) that make cloud calls repeatable.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated

from pydantic import AfterValidator

NAME_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
NAME_MAX_LENGTH = 40
_NAME_RE = re.compile(NAME_PATTERN)


class InvalidNameError(ValueError):
    """A user-given name breaks the naming rule."""


def check_name(name: str, what: str = "name") -> str:
    """Return `name` if it is valid, else raise InvalidNameError with a one-line reason."""
    if not isinstance(name, str) or not name:
        raise InvalidNameError(f"{what} must not be empty")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidNameError(f"{what} {shown(name)} is longer than {NAME_MAX_LENGTH} characters")
    if not _NAME_RE.fullmatch(name):
        raise InvalidNameError(
            f"{what} {shown(name)} is invalid: use lowercase letters, digits and '-', "
            "starting with a letter and not ending with '-'"
        )
    return name


def shown(value: str, limit: int = 60) -> str:
    """`value` quoted for a one-line message, cut after `limit` characters."""
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}... ({len(value)} chars)"


Name = Annotated[str, AfterValidator(check_name)]
"""A namespace, MCIS, group, VM or resource name in a pydantic model (the rules above)."""


def is_valid_name(name: str) -> bool:
    try:
        check_name(name)
    except InvalidNameError:
        return False
    return True


def mcis_workflow_id(namespace: str, name: str) -> str:
    """Id of the long-lived workflow that owns one MCIS."""
    return f"mcis/{namespace}/{name}"


def vm_name(group: str, index: int) -> str:
    """The VM's name inside its MCIS: `{group}-{n}`, n counting from 1 (as the reference)."""
    return f"{group}-{index}"


def vm_index(name: str) -> int:
    """The n of `{group}-{n}` (0 for a name without one)."""
    _, _, tail = name.rpartition("-")
    return int(tail) if tail.isdigit() else 0


def vm_group(name: str) -> str:
    """The group of a VM named `{group}-{n}`."""
    return name.rpartition("-")[0] or name


def vm_order(name: str) -> tuple[str, int, str]:
    """Sort key putting `web-2` before `web-10`."""
    return (name.rpartition("-")[0], vm_index(name), name)


def cloud_vm_name(namespace: str, mcis: str, vm: str) -> str:
    """The name the VM carries at the cloud, unique per namespace."""
    return f"{namespace}-{mcis}-{vm}"


def shared_resource_name(provider: str, region: str) -> str:
    """Name (inside a namespace) of the vNet, security group and SSH key that dynamic MCIS
    share in one cloud region."""
    return f"shared-{provider}-{region}"


def cloud_resource_name(namespace: str, name: str) -> str:
    """The name a namespace's resource carries at the cloud (`{ns}-shared-{provider}-{region}`
    for shared ones, as the reference), unique across namespaces."""
    return f"{namespace}-{name}"


TAG_NAMESPACE = "mcis-namespace"
TAG_MCIS = "mcis-name"
TAG_UID = "mcis-uid"
TAG_VM = "mcis-vm"
TAG_GROUP = "mcis-group"
TAG_SERIAL = "mcis-serial"


def vm_tags(
    namespace: str, mcis: str, uid: str, group: str, vm: str, serial: int = 0
) -> dict[str, str]:
    """Tags every VM carries at its cloud, so reconcile and orphan sweeps can find it. The
    serial (from release 0.2 on) tells apart two VMs that bore the same name one after the
    other."""
    tags = {TAG_NAMESPACE: namespace, TAG_MCIS: mcis, TAG_UID: uid, TAG_GROUP: group, TAG_VM: vm}
    if serial:
        tags[TAG_SERIAL] = str(serial)
    return tags


def vm_client_token(
    namespace: str, mcis: str, mcis_uid: str, vm: str, attempt: int = 0, serial: int = 0
) -> str:
    """Deterministic idempotency token for creating one VM.

    The same VM always gets the same token, so a retried create returns the VM made the first
    time. From release 0.2 on every VM of an MCIS has its own serial, never given twice in the
    life of the MCIS, and the token derives from (MCIS uid, serial) alone: a VM created under a
    name that an earlier, removed VM bore gets a token of its own. Serial 0 marks a VM planned
    by release 0.1, whose token came from its name and attempt (kept so that its histories
    replay); the two forms never collide.
    """
    if serial:
        raw = f"{namespace}/{mcis}/{mcis_uid}/#{serial}".encode()
    else:
        raw = f"{namespace}/{mcis}/{mcis_uid}/{vm}/{attempt}".encode()
    return "mcis-" + hashlib.sha256(raw).hexdigest()[:32]
