"""The one error type the CLI shows: a single clear line and an exit code, never a trace."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from temporalio.converter import DataConverter

from models.workflow_input import MAX_WORKFLOW_INPUT_BYTES

BAD_INPUT = 2
FAILED = 1


class CliError(Exception):
    def __init__(self, message: str, exit_code: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def one_line(message: str) -> str:
    """`message` as one printable line: characters a terminal or `str.splitlines` would break
    on, or not show (newlines, NEL, U+2028, controls), escaped as `\\x85`, `\\n`, ...; input a
    user typed appears in messages, and must not split them."""
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
        for c in message
    )


def validation_message(exc: ValidationError, what: str) -> str:
    """The first problem pydantic found, as one line: `groups.0.count: must be >= 1`."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    return f"invalid {what}: {where + ': ' if where else ''}{message}"


async def check_input_size(converter: DataConverter, value: Any, what: str, hint: str = "") -> None:
    """Refuse a workflow input larger than MAX_WORKFLOW_INPUT_BYTES once encoded by the
    client's data converter (as Temporal would receive it), before any workflow starts."""
    size = sum(payload.ByteSize() for payload in await converter.encode([value]))
    if size > MAX_WORKFLOW_INPUT_BYTES:
        raise CliError(
            f"{what} is too large: {_size(size)} ({size:,} bytes) encoded, the limit is "
            f"{_size(MAX_WORKFLOW_INPUT_BYTES)} ({MAX_WORKFLOW_INPUT_BYTES:,} bytes)"
            + (f"; {hint}" if hint else "")
        )


def _size(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.0f} KiB"
