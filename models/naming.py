"""Naming rules shared by namespaces, resources, MCIS, groups and VMs, and the derived names
(cloud-side VM names, shared-resource names, idempotency tokens) that make cloud calls repeatable.
"""

from __future__ import annotations

import hashlib
import re

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
        raise InvalidNameError(f"{what} {name!r} is longer than {NAME_MAX_LENGTH} characters")
    if not _NAME_RE.match(name):
        raise InvalidNameError(
            f"{what} {name!r} is invalid: use lowercase letters, digits and '-', "
            "starting with a letter and not ending with '-'"
        )
    return name


def is_valid_name(name: str) -> bool:
    try:
        check_name(name)
    except InvalidNameError:
        return False
    return True


def vm_name(group: str, index: int) -> str:
    """The VM's name inside its MCIS: `{group}-{n}`, n counting from 1 (as the reference)."""
    return f"{group}-{index}"


def cloud_vm_name(namespace: str, mcis: str, vm: str) -> str:
    """The name the VM carries at the cloud, unique per namespace."""
    return f"{namespace}-{mcis}-{vm}"


def shared_resource_name(namespace: str, provider: str, region: str) -> str:
    """Name of the vNet, security group and key pair shared by dynamic MCIS in one region."""
    return f"{namespace}-shared-{provider}-{region}"


def vm_client_token(namespace: str, mcis: str, mcis_uid: str, vm: str, attempt: int = 0) -> str:
    """Deterministic idempotency token for creating one VM.

    The same VM (same MCIS instance, same attempt) always gets the same token, so a retried
    create returns the VM made the first time. A replacement VM (attempt + 1) or the VM of a
    re-created MCIS of the same name (new uid) gets a new one.
    """
    raw = f"{namespace}/{mcis}/{mcis_uid}/{vm}/{attempt}".encode()
    return "mcis-" + hashlib.sha256(raw).hexdigest()[:32]
