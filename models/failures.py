"""Turning a failed activity, workflow or update into the one line a user should read (pure:
shared by workflows, activities and the clients, so none of them imports another's layer)."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError


def _innermost(exc: BaseException) -> BaseException:
    cause = exc
    while not isinstance(cause, ApplicationError):
        inner = getattr(cause, "cause", None)
        if not isinstance(inner, BaseException):
            break
        cause = inner
    return cause


def failure_type(exc: BaseException) -> str | None:
    """The type of the innermost ApplicationError under `exc`, if any."""
    cause = _innermost(exc)
    return cause.type if isinstance(cause, ApplicationError) else None


def failure_message(exc: BaseException) -> str:
    """The message of the innermost ApplicationError under `exc` (following `.cause`)."""
    cause = _innermost(exc)
    if isinstance(cause, ApplicationError):
        return cause.message
    if isinstance(cause, ActivityError):
        return f"activity {cause.activity_type} failed: {cause.message}"
    return str(cause)
