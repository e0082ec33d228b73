"""API fixtures: `api`, the end-to-end stack (Temporal dev server, local cloud, worker) with its
API server, uvicorn on a free loopback port, reached over real HTTP with httpx; `EventStream`, a
server-sent event stream read in the background while a test goes on; and, for a module that
defines `ctx_app` (an app without a stack, `native_fakes.py`), its `ctx` and its client `http`."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from bench.stack_cli import StackCli
from starter.stack import api_url, isolated_env
from tests.e2e.conftest import TIME_SCALE, running_stack

if TYPE_CHECKING:  # native_fakes imports this module
    from tests.api.native_fakes import FakeContext

USERNAME, PASSWORD = "tester", "api-secret"
CREDENTIALS = {"MCIS_API_USERNAME": USERNAME, "MCIS_API_PASSWORD": PASSWORD}


@dataclass
class Api:
    """The stack's API server: `http` is a client with the credentials."""

    stack: StackCli
    base_url: str
    http: httpx.Client

    def wait_for(
        self, path: str, done: Callable[[httpx.Response], bool], timeout: float = 60.0
    ) -> httpx.Response:
        """GET `path` until `done(answer)`; the last answer when the time is up fails the test."""
        deadline = time.monotonic() + timeout
        while True:
            answer = self.http.get(path)
            if done(answer):
                return answer
            assert time.monotonic() < deadline, f"GET {path}: {answer.status_code} {answer.text}"
            time.sleep(0.2)


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    home = tmp_path_factory.mktemp("mcis-api")
    env = {**os.environ, **isolated_env(home, "mcis-api", TIME_SCALE), **CREDENTIALS}
    with running_stack(env) as stack:
        base_url = api_url(stack.settings)
        with httpx.Client(
            base_url=base_url, auth=(USERNAME, PASSWORD), timeout=30, trust_env=False
        ) as http:
            yield Api(stack, base_url, http)


@pytest.fixture
def ctx(ctx_app: tuple[FakeContext, httpx.AsyncClient]) -> FakeContext:
    return ctx_app[0]


@pytest.fixture
async def http(ctx_app: tuple[FakeContext, httpx.AsyncClient]) -> AsyncIterator[httpx.AsyncClient]:
    async with ctx_app[1] as client:
        yield client


@dataclass
class Event:
    event: str
    data: Any
    id: str | None = None


@dataclass
class EventStream:
    """Reads `GET path` as server-sent events in a thread until the stream ends or `close`."""

    api: Api
    path: str
    events: list[Event] = field(default_factory=list)
    status_code: int | None = None
    error: BaseException | None = None
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _opened: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> EventStream:
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        assert self._opened.wait(30), f"{self.path}: no answer"
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()

    def wait_for(self, done: Callable[[Any], bool], timeout: float = 30.0) -> Any:
        """The data of the first `status` event for which `done(data)`, once it has come."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e.data for e in list(self.events) if e.event == "status" and done(e.data)]
            if found:
                return found[0]
            assert self.error is None, f"{self.path}: {self.error!r}"
            assert time.monotonic() < deadline, f"{self.path}: not seen in {timeout} s"
            time.sleep(0.05)

    def wait_ended(self, timeout: float) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"{self.path}: still streaming after {timeout} s"
        if self.error is not None:
            raise self.error

    def _read(self) -> None:
        auth = (USERNAME, PASSWORD)
        timeout = httpx.Timeout(30, read=None)
        try:
            with (
                httpx.Client(base_url=self.api.base_url, auth=auth, timeout=timeout) as client,
                client.stream("GET", self.path) as answer,
            ):
                self.status_code = answer.status_code
                self._opened.set()
                fields: dict[str, str] = {}
                for line in answer.iter_lines():
                    if self._stop.is_set():
                        return
                    if line == "" and fields:
                        data = json.loads(fields.get("data", "null"))
                        self.events.append(
                            Event(fields.get("event", "message"), data, fields.get("id"))
                        )
                        fields = {}
                    elif line and not line.startswith(":"):
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
        except BaseException as exc:  # reported by wait_ended
            self.error = exc
        finally:
            self._opened.set()
