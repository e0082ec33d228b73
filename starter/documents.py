"""Reading a user's YAML or JSON document (an MCIS request, a policy) into a mapping, with one
clear line for every way it can be wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.documents import DocumentError, parse_document
from starter.errors import CliError

MAX_DOCUMENT_BYTES = 1_000_000


def load_mapping(path: str, what: str) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise CliError(f"{what} file {path!r} does not exist")
    if file.stat().st_size > MAX_DOCUMENT_BYTES:
        raise CliError(f"{what} file {path!r} is larger than {MAX_DOCUMENT_BYTES} bytes")
    text = file.read_text(errors="replace")
    try:
        data: Any = parse_document(text, as_json=file.suffix == ".json")
    except DocumentError as exc:
        raise CliError(f"{what} file {path!r} is not valid YAML/JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CliError(f"{what} file {path!r} must hold a mapping")
    return data
