"""The native API (`/v1`): one router per noun, each in its own module, included here."""

from __future__ import annotations

from fastapi import APIRouter

from api.native import (
    benchmarks,
    catalog,
    events,
    map,
    mcis,
    namespaces,
    placement,
    policies,
    remote,
    resources,
    sweep,
)

router = APIRouter()
ROUTERS = (
    namespaces,
    resources,
    catalog,
    placement,
    mcis,
    events,
    remote,
    benchmarks,
    policies,
    sweep,
    map,
)
for _module in ROUTERS:
    router.include_router(_module.router)
