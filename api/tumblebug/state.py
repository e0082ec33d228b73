"""What the CB-Tumblebug and CB-Spider routes keep per app, next to the app's `Context`: the
registrations store (`store.registrations`) and the regions of each cloud, read once (a VM's
`location` in every MCIS answer). Routes get it with `Depends(compat_state)`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from api.context import context
from catalog.entries import Region
from drivers.errors import CloudError
from drivers.retry import retrying
from starter.context import Context
from starter.errors import FAILED, CliError
from store.registrations import RegistrationStore


@dataclass
class CompatState:
    ctx: Context
    registrations: RegistrationStore
    _regions: dict[str, dict[str, Region]] = field(default_factory=dict)

    async def regions(self, provider: str) -> dict[str, Region]:
        """The regions of a cloud (an mcis provider: local flavor or connection) by name."""
        if provider not in self._regions:
            driver = self.ctx.driver(provider)
            try:
                found = await retrying(driver.regions)
            except CloudError as exc:
                raise CliError(f"cloud {provider!r}: {exc.message}", FAILED) from None
            self._regions[provider] = {region.name: region for region in found}
        return self._regions[provider]


def compat_state(request: Request) -> CompatState:
    state: CompatState | None = getattr(request.app.state, "compat", None)
    if state is None:
        ctx = context(request)
        state = CompatState(ctx, RegistrationStore(ctx.settings.database_url))
        request.app.state.compat = state
    return state


State = Annotated[CompatState, Depends(compat_state)]
"""The per-app state, as a route parameter."""
