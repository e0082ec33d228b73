"""Operations on an existing MCIS (lifecycle actions, scaling, reconcile) as users see them:
what was asked, on which scope, and how it ended."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class OperationKind(StrEnum):
    CREATE = "create"
    SUSPEND = "suspend"
    RESUME = "resume"
    REBOOT = "reboot"
    TERMINATE = "terminate"
    REFINE = "refine"
    SCALE_OUT = "scale-out"
    SCALE_IN = "scale-in"
    ADD_GROUP = "add-group"
    REMOVE_VM = "remove-vm"
    RECONCILE = "reconcile"
    REFRESH = "refresh"
    DELETE = "delete"


class OperationState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    REJECTED = "rejected"  # a forced operation no longer allowed when its turn came
    FAILED = "failed"  # ended by an error (message says which); the MCIS stays operable
    CANCELLED = "cancelled"  # stopped by `delete --force`


class OperationRecord(BaseModel):
    id: int
    kind: OperationKind
    scope: str  # "mcis", "group web", "vm web-3"
    request_id: str | None = None  # the caller's idempotency key
    state: OperationState = OperationState.QUEUED
    message: str = ""
    report: dict[str, list[str]] = Field(default_factory=dict)  # up to 100 names a list
    requested_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.state not in (OperationState.QUEUED, OperationState.RUNNING)
