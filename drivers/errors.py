"""Errors every driver raises, so activities can tell a retry from a hopeless call."""

from __future__ import annotations


class CloudError(Exception):
    """A cloud call failed. `retryable` says whether trying again can help."""

    retryable = True

    def __init__(self, message: str, code: str = "CloudError") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TransientCloudError(CloudError):
    """5xx answers, lost connections: try again with backoff."""


class CloudUnreachableError(TransientCloudError):
    """The cloud's endpoint did not answer at all."""


class ThrottledError(TransientCloudError):
    """HTTP 429: slow down, then try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float, code: str = "Throttled") -> None:
        super().__init__(message, code)
        self.retry_after = retry_after


class PermanentCloudError(CloudError):
    """Trying again will not help (bad request, quota, unsupported operation)."""

    retryable = False


class InvalidRequestError(PermanentCloudError):
    """Unknown spec or image, bad CIDR, a state that does not allow the action."""


class QuotaExceededError(PermanentCloudError):
    """The region's quota is used up."""


class CloudNotFoundError(PermanentCloudError):
    """The resource does not exist (or no longer exists) at the cloud (named apart from
    store.errors.NotFoundError, a record missing from mcis's own store)."""


class ConflictError(PermanentCloudError):
    """The resource exists with other settings, or is still in use."""


class NotSupportedError(PermanentCloudError):
    """The cloud's driver does not offer this operation."""
