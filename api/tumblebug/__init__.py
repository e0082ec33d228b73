"""The CB-Tumblebug 0.3 compatible API (`/tumblebug`, see ../shared/notes/tumblebug-api.md)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
