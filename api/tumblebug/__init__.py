"""The CB-Tumblebug 0.3 compatible API (`/tumblebug`, see ../shared/notes/tumblebug-api.md):
namespaces (`ns`), vNet, security group and SSH key (`mcir`), image and spec (`images_specs`),
MCIS (`mcis`, reached through `mcis_access`), one VM of an MCIS (`vm`) and remote commands
(`cmd`) in Tumblebug's JSON shapes (`models`) and words (`ids`, `status`), each on the same code
as the CLI. Spider connection configs, registered on
their own port (`api/spider.py`), say where things go (`connections`)."""

from __future__ import annotations

from fastapi import APIRouter

from api.tumblebug import cmd, images_specs, mcir, mcis, ns, vm

router = APIRouter()


@router.get("/health", tags=["tumblebug"])
async def health() -> dict[str, str]:
    return {"message": "API server is running"}


for part in (ns, mcir, images_specs, mcis, vm, cmd):
    router.include_router(part.router)
