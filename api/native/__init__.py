"""The native API (`/v1`): one router per noun, each in its own module, included here."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
