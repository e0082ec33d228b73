"""Errors as the API answers them: JSON `{"error": KIND, "message": TEXT}` with a 4xx status for
anything the caller can fix, never a 500 with a traceback. `ApiError` is what routes raise; a
`CliError` from the shared command code and a failed request validation map to it here."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError

from starter.errors import BAD_INPUT, CliError, one_line
from starter.mcis_service import OperationRefusedError


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


def error_response(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": one_line(message)}, status_code=status)


def _cli_status(exc: CliError) -> tuple[int, str]:
    """A CliError's HTTP status: bad input is 400 (an unknown value too), unless it says
    something was not found (404) or already exists (409); an operation the MCIS refused in its
    state (busy, being deleted, not allowed now) is 409 and one naming an unknown group or VM
    404; a failed operation is 409 (the request was fine, the MCIS or the cloud refused it), an
    unreachable service 503."""
    text = exc.message
    if isinstance(exc, OperationRefusedError):
        return (404, "not_found") if "not found" in text else (409, "conflict")
    if exc.exit_code == BAD_INPUT:
        if "not found" in text or "does not exist" in text:
            return 404, "not_found"
        if "already exists" in text:
            return 409, "conflict"
        return 400, "bad_request"
    if text.startswith("cannot reach") or "no worker answered" in text:
        return 503, "unavailable"
    return 409, "failed"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.message)

    @app.exception_handler(CliError)
    async def _cli_error(_: Request, exc: CliError) -> JSONResponse:
        status, error = _cli_status(exc)
        return error_response(status, error, exc.message)

    @app.exception_handler(RPCError)
    async def _temporal(_: Request, exc: RPCError) -> JSONResponse:
        return error_response(503, "unavailable", f"Temporal did not answer: {exc.message}")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first.get("loc", ()))
        message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
        return error_response(400, "bad_request", f"{where}: {message}" if where else message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}
        response = error_response(
            exc.status_code, kind.get(exc.status_code, "error"), str(exc.detail)
        )
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # never a traceback to the caller; the server log has it
        logging.getLogger("mcis.api").exception("unexpected error")
        return error_response(500, "internal", f"internal error: {type(exc).__name__}")
