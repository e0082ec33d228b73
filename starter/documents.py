"""Reading a user's YAML or JSON document (an MCIS request, a policy) into a mapping, with one
clear line for every way it can be wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

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
        data: Any = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CliError(f"{what} file {path!r} is not valid YAML/JSON: {first_line}") from None
    if not isinstance(data, dict):
        raise CliError(f"{what} file {path!r} must hold a mapping")
    return data
