"""Libcloud's own recorded API responses, served to a Libcloud NodeDriver: the mock HTTP classes
of Libcloud's test suite (GCE, Azure ARM, OpenStack, Alibaba ECS) extended to record every
request and to answer from our routes first.

A route is a recorded response we add (`tests/drivers/fixtures/<cloud>/`) or one of Libcloud's
fixture files served for a call its mock does not route; a transition moves the mock cloud to a
phase (the VM created, stopped, ...) so that a listing after an action shows the VM as the cloud
would. Which routes and transitions a cloud has is data in `tests/drivers/clouds.py`."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import sys
import threading
import unittest
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.client import responses
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

import libcloud

LIBCLOUD_FIXTURES = Path(libcloud.__file__).parent / "test" / "compute" / "fixtures"
OUR_FIXTURES = Path(__file__).parent / "fixtures"


def _load_libcloud_test_secrets() -> None:
    """Libcloud's test modules import `libcloud.test.secrets`, which the wheel ships only as
    `secrets.py-dist` (fake credentials): load that file under the module's name."""
    name = "libcloud.test.secrets"
    if name not in sys.modules:
        path = LIBCLOUD_FIXTURES.parent.parent / "secrets.py-dist"
        loader = importlib.machinery.SourceFileLoader(name, str(path))
        spec = importlib.util.spec_from_loader(name, loader)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
        sys.modules[name] = module


_load_libcloud_test_secrets()

# Libcloud's test modules and their fake credentials, importable only after the secrets above.
from libcloud.test.common.test_google import (  # noqa: E402
    STUB_TOKEN_FROM_FILE,
    GoogleAuthMockHttp,
)
from libcloud.test.compute.test_azure_arm import AzureMockHttp  # noqa: E402
from libcloud.test.compute.test_ecs import ECSMockHttp  # noqa: E402
from libcloud.test.compute.test_gce import GCEMockHttp  # noqa: E402
from libcloud.test.compute.test_openstack import OpenStack_2_0_MockHttp  # noqa: E402
from libcloud.test.secrets import (  # noqa: E402
    ECS_PARAMS,
    GCE_KEYWORD_PARAMS,
    GCE_PARAMS,
    OPENSTACK_PARAMS,
)

__all__ = [
    "ECS_PARAMS",
    "GCE_KEYWORD_PARAMS",
    "GCE_PARAMS",
    "OPENSTACK_PARAMS",
    "STUB_TOKEN_FROM_FILE",
    "GoogleAuthMockHttp",
]


def ours(name: str) -> Path:
    """A response recorded by us in the cloud API's format."""
    return OUR_FIXTURES / name


def theirs(name: str) -> Path:
    """One of Libcloud's recorded responses."""
    return LIBCLOUD_FIXTURES / name


@dataclass(frozen=True)
class Route:
    """Answer requests matching `pattern` (a regex searched in `SentRequest.line`) with `body`,
    only in the given phases (any phase when none)."""

    pattern: str
    body: Path | None
    """The recorded answer; None for an empty one (as Nova's 202 to a server action)."""
    phases: tuple[str, ...] = ()
    status: int = 200


@dataclass(frozen=True)
class Transition:
    """A request matching `pattern` moves the mock cloud to `phase`."""

    pattern: str
    phase: str


@dataclass(frozen=True)
class SentRequest:
    method: str
    path: str
    params: dict[str, str]
    body: str

    @property
    def line(self) -> str:
        """The request in one line, `METHOD /path?query body`: what routes, transitions and
        `MockCloud.sent` match."""
        query = "&".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.method} {self.path}?{query} {self.body}"


@dataclass(eq=False)
class MockCloud(unittest.TestCase):
    """One test's cloud behind Libcloud's mock HTTP: the requests it received, its phase, the
    routes and transitions it answers with. Libcloud's mocks call assertion methods and read
    attributes (ECS: `region`) on their `test`: this is that object."""

    region: str = ""
    routes: Sequence[Route] = ()
    transitions: Sequence[Transition] = ()
    phase: str = "start"
    requests: list[SentRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        unittest.TestCase.__init__(self, "run")

    def receive(
        self, method: str, url: str, body: Any
    ) -> tuple[int, str, dict[str, str], str] | None:
        """Record the request; our route's answer, or None to let Libcloud's mock answer."""
        parsed = urlparse(url)
        text = body.decode() if isinstance(body, bytes) else str(body or "")
        sent = SentRequest(method, parsed.path, dict(parse_qsl(parsed.query)), text)
        self.requests.append(sent)
        for transition in self.transitions:
            if re.search(transition.pattern, sent.line):
                self.phase = transition.phase
        for route in self.routes:
            in_phase = not route.phases or self.phase in route.phases
            if in_phase and re.search(route.pattern, sent.line):
                text = route.body.read_text() if route.body else ""
                # XML goes without a content type, as Libcloud's ECS mock sends it (a text/xml
                # one makes the response decode as latin-1, which ECS's Chinese names break).
                headers = {} if text.startswith("<") else {"content-type": "application/json"}
                return route.status, text, headers, responses[route.status]
        return None

    def sent(self, pattern: str) -> list[SentRequest]:
        """The requests whose line matches `pattern`, in order."""
        return [r for r in self.requests if re.search(pattern, r.line)]


_ONE_MOCK_REQUEST_AT_A_TIME = threading.Lock()
"""Libcloud's MockHttp answers through `requests_mock.mock()`, which patches `requests` for the
whole process while a request is in flight: two threads at once would unpatch it under each
other and let a request out to the network. mcis's drivers call Libcloud from several threads,
so the mock's requests take turns (what they answer is unchanged)."""


class _Recording:
    """Mixin over a Libcloud MockHttp: every request goes to the class's `cloud` first."""

    cloud: MockCloud

    def request(self, *args: Any, **kwargs: Any) -> Any:
        with _ONE_MOCK_REQUEST_AT_A_TIME:
            return super().request(*args, **kwargs)  # type: ignore[misc]

    def prepared_request(self, *args: Any, **kwargs: Any) -> Any:
        with _ONE_MOCK_REQUEST_AT_A_TIME:
            return super().prepared_request(*args, **kwargs)  # type: ignore[misc]

    def _get_request(self, method: str, url: str, body: Any = None, headers: Any = None) -> Any:
        answer = self.cloud.receive(method, url, body)
        if answer is not None:
            return answer
        return super()._get_request(method, url, body, headers)  # type: ignore[misc]


class GceHttp(_Recording, GCEMockHttp):
    pass


class AzureHttp(_Recording, AzureMockHttp):
    pass


class OpenStackHttp(_Recording, OpenStack_2_0_MockHttp):
    pass


class EcsHttp(_Recording, ECSMockHttp):
    pass
