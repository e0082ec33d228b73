"""`VmChanges`: what was learned about a VM after it was planned (its cloud id, status, IPs,
error), written to the store with `Store.update_vms`. Only the fields given are written."""

from __future__ import annotations

from pydantic import BaseModel, field_validator

from models.status import VmStatus


class VmChanges(BaseModel):
    """A partial update of one VM. A field left out keeps its value; a field given as None is
    cleared (e.g. `error=None` once a retry succeeded), except `status`, which cannot be."""

    csp_id: str | None = None
    status: VmStatus | None = None
    native_status: str | None = None
    public_ip: str | None = None
    private_ip: str | None = None
    error: str | None = None

    @field_validator("status")
    @classmethod
    def _status_is_kept(cls, status: VmStatus | None) -> VmStatus:
        if status is None:
            raise ValueError("a VM's status cannot be cleared")
        return status
