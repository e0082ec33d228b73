"""What commands need, made on first use: settings, the store, the Temporal client, the drivers
(local cloud flavors and cloud connections). Unreachable services become one clear line naming
the address."""

from __future__ import annotations

from functools import cached_property

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from drivers.base import CloudDriver
from drivers.connection import ConnectionsError
from drivers.localcloud_admin import LocalCloudAdmin
from drivers.registry import cloud_drivers
from settings import Settings, load_settings
from starter.errors import FAILED, CliError
from store.repository import Store


class Context:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self._client: Client | None = None

    @cached_property
    def store(self) -> Store:
        return Store.from_settings(self.settings)

    @cached_property
    def drivers(self) -> dict[str, CloudDriver]:
        try:
            return cloud_drivers(self.settings)
        except ConnectionsError as exc:
            raise CliError(str(exc)) from None

    @cached_property
    def admin(self) -> LocalCloudAdmin:
        return LocalCloudAdmin(self.settings.localcloud_url)

    def driver(self, provider: str) -> CloudDriver:
        if provider not in self.drivers:
            known = ", ".join(sorted(self.drivers))
            raise CliError(f"unknown cloud {provider!r} (known: {known})")
        return self.drivers[provider]

    async def client(self) -> Client:
        if self._client is None:
            address = self.settings.temporal_address
            try:
                self._client = await Client.connect(
                    address,
                    namespace=self.settings.temporal_namespace,
                    data_converter=pydantic_data_converter,
                )
            except RuntimeError:
                raise CliError(
                    f"cannot reach Temporal at {address}: is it running? (`mcis stack up`)",
                    FAILED,
                ) from None
        return self._client

    async def aclose(self) -> None:
        if "drivers" in self.__dict__:
            for driver in self.drivers.values():
                await driver.aclose()
