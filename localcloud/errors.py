"""The local cloud's API errors: one exception type carrying HTTP status, code and message,
rendered by app.py as `{"error": {"code": ..., "message": ...}}`."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


def invalid(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "NotFound", message)


def incorrect_state(message: str) -> ApiError:
    return ApiError(409, "IncorrectState", message)


def conflict(message: str) -> ApiError:
    return ApiError(409, "Conflict", message)


def quota_exceeded(message: str) -> ApiError:
    return ApiError(409, "QuotaExceeded", message)


def throttled(retry_after: float) -> ApiError:
    return ApiError(
        429, "Throttled", f"request rate exceeded, retry after {retry_after:g}s", retry_after
    )


def unavailable(message: str) -> ApiError:
    return ApiError(503, "InternalError", message)
