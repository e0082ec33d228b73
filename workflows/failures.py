"""Turning a failed activity, workflow or update into the one line a user should read."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError


def failure_message(exc: BaseException) -> str:
    """The message of the innermost ApplicationError under `exc` (following `.cause`)."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ApplicationError):
        inner = getattr(cause, "cause", None)
        if not isinstance(inner, BaseException):
            break
        cause = inner
    if isinstance(cause, ApplicationError):
        return cause.message
    if isinstance(cause, ActivityError):
        return f"activity {cause.activity_type} failed: {cause.message}"
    return str(cause)
