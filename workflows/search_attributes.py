"""Search attributes mcis workflows set, so the Temporal UI and `temporal workflow list --query`
find an MCIS by namespace, name or status. The dev server must be started with them registered
(`DEV_SERVER_FLAGS`)."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

MCIS_NAMESPACE = SearchAttributeKey.for_keyword("McisNamespace")
MCIS_NAME = SearchAttributeKey.for_keyword("McisName")
MCIS_STATUS = SearchAttributeKey.for_keyword("McisStatus")

ALL_KEYS = (MCIS_NAMESPACE, MCIS_NAME, MCIS_STATUS)

DEV_SERVER_FLAGS: tuple[str, ...] = tuple(
    flag for key in ALL_KEYS for flag in ("--search-attribute", f"{key.name}=Keyword")
)
