"""The dashboard (`/`): static pages served from this package, fed by the native API."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
