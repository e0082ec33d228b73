"""The contract suite's set-up: per cloud, a Libcloud NodeDriver whose HTTP goes to Libcloud's
recorded API answers (and ours), wrapped in mcis's driver of that cloud (`make_driver`, the one
place the driver under test is made)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "requests_mock",
    reason="Libcloud's test package (its mock HTTP classes) needs the dev dependency requests-mock",
)

from drivers.base import CloudDriver
from drivers.connection import Connection
from drivers.libcloud_base import LibcloudDriver
from drivers.registry import driver_class
from tests.drivers.clouds import CASES, CloudCase
from tests.drivers.libcloud_mocks import STUB_TOKEN_FROM_FILE, MockCloud


def make_driver(
    case: CloudCase, new_node_driver: Callable[[], Any], region: str = ""
) -> CloudDriver:
    """mcis's driver of `case.cloud` (its class from the registry) serving `region` (default:
    the case's), whose threads each make their NodeDriver (wired to the mock cloud) with
    `new_node_driver`, as a driver made from a connection does with its client factory."""
    cls = driver_class(case.cloud)
    assert issubclass(cls, LibcloudDriver)
    return cls(
        "lab",
        [region or case.region],
        lambda _region: new_node_driver(),
        options=case.options,
        locations=case.locations,
    )


def connection_of(case: CloudCase, folder: Path, **fields: Any) -> Connection:
    """A connection of `case.cloud` to the recorded account, in the case's region."""
    return Connection.model_validate(
        {
            "name": "lab",
            "cloud": case.cloud,
            "regions": [case.region],
            "credentials": case.credentials(folder),
            "options": case.options,
            "locations": case.locations,
            **fields,
        }
    )


@dataclass
class Cloud:
    """One test's cloud: its data, the mock cloud behind Libcloud, and mcis's driver of it."""

    case: CloudCase
    mock: MockCloud
    driver: CloudDriver


@pytest.fixture(autouse=True)
def _hermetic_libcloud(monkeypatch: pytest.MonkeyPatch) -> None:
    """What Libcloud's own Google tests patch (OAuth token file, GCE metadata probe), and no
    sleeping in Libcloud's polls (ECS waits for states, Azure retries)."""
    google = "libcloud.common.google"
    monkeypatch.setattr(
        f"{google}.GoogleOAuth2Credential._get_token_from_file",
        lambda _self: STUB_TOKEN_FROM_FILE,
    )
    monkeypatch.setattr(f"{google}.GoogleOAuth2Credential._write_token_to_file", lambda _self: None)
    monkeypatch.setattr(f"{google}.GoogleAuthType._is_gce", staticmethod(lambda: False))
    monkeypatch.setattr("time.sleep", lambda _seconds: None)


def _mock_cloud(case: CloudCase, monkeypatch: pytest.MonkeyPatch) -> MockCloud:
    """Plug the cloud's mock HTTP into Libcloud, as Libcloud's own tests do (`conn_class`)."""
    mock = MockCloud(region=case.region, routes=case.routes, transitions=case.transitions)
    for connection_class, http_class in case.plug:
        monkeypatch.setattr(connection_class, "conn_class", http_class)
    monkeypatch.setattr(case.http, "type", None)
    monkeypatch.setattr(case.http, "use_param", case.use_param)
    monkeypatch.setattr(case.http, "cloud", mock, raising=False)
    monkeypatch.setattr(case.http, "test", mock)
    return mock


@pytest.fixture(params=CASES, ids=str)
async def cloud(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Cloud]:
    case: CloudCase = request.param
    mock = _mock_cloud(case, monkeypatch)
    driver = make_driver(case, case.new_node_driver)
    try:
        yield Cloud(case, mock, driver)
    finally:
        await driver.aclose()
