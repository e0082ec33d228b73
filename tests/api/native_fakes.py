"""A Temporal client double for the API's tests without a stack, and the app built on it: every
call that would start or change a workflow is recorded (`calls`); a started workflow runs until
the test ends it (`finish`, `fail`); a workflow never started does not exist (NOT_FOUND), as
Temporal answers. The app's store is a temporary MCIS_HOME with no cloud (no local cloud, no
connections), so nothing leaves the process; `seed_mcis` records an MCIS there, `resource_record`
makes a resource's record; `refused` checks a request's JSON error, and `refused_test` makes a
module's test of bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.app import create_app
from models.records import McisRecord, NamespaceRecord, ResourceKind, ResourceRecord, VmRecord
from models.status import VmStatus
from settings import Settings, load_settings
from starter.context import Context
from starter.output import to_jsonable
from starter.stack import isolated_env
from tests.api.conftest import CREDENTIALS, PASSWORD, USERNAME


def not_found() -> RPCError:
    return RPCError("workflow not found (test double)", RPCStatusCode.NOT_FOUND, b"")


@dataclass
class FakeRun:
    input: Any
    status: WorkflowExecutionStatus = WorkflowExecutionStatus.RUNNING
    result: Any = None
    failure: str | None = None
    run_id: str = "run-1"


@dataclass
class Described:
    status: WorkflowExecutionStatus
    run_id: str


@dataclass
class FakeHandle:
    temporal: FakeTemporal
    id: str
    run_id: str | None = None
    typed: bool = True
    """False for a handle got without the workflow's run method: its result comes back as
    plain JSON data (dicts), as Temporal's data converter decodes it without a type."""

    @property
    def result_run_id(self) -> str | None:
        run = self.temporal.runs.get(self.id)
        return run.run_id if run else None

    def _run(self) -> FakeRun:
        if self.id not in self.temporal.runs:
            raise not_found()
        return self.temporal.runs[self.id]

    async def describe(self, *_: Any, **__: Any) -> Described:
        run = self._run()
        return Described(run.status, run.run_id)

    async def result(self, *_: Any, **__: Any) -> Any:
        run = self._run()
        if run.failure is not None:
            raise WorkflowFailureError(cause=ApplicationError(run.failure))
        return run.result if self.typed else to_jsonable(run.result)

    async def query(self, *_: Any, **__: Any) -> Any:
        """The answer a test set in `answers` for this workflow (any query), else NOT_FOUND."""
        if self.id not in self.temporal.answers:
            raise not_found()
        return self.temporal.answers[self.id]

    def __getattr__(self, name: str) -> Any:
        """Updates, signals, cancels...: recorded, and the workflow is not found."""

        async def changes(*_: Any, **__: Any) -> Any:
            self.temporal.calls.append(f"{name} {self.id}")
            raise not_found()

        return changes


@dataclass
class FakeTemporal:
    """What the API's Context gets as its Temporal client."""

    calls: list[str] = field(default_factory=list)
    runs: dict[str, FakeRun] = field(default_factory=dict)
    data_converter: Any = pydantic_data_converter
    namespace: str = "default"
    ends_with: Any = None
    """If set, a workflow started ends at once with this result."""
    answers: dict[str, Any] = field(default_factory=dict)
    """What a workflow answers every query with, by workflow id."""

    async def start_workflow(self, _workflow: Any, arg: Any, *, id: str, **_: Any) -> FakeHandle:
        self.calls.append(f"start_workflow {id}")
        self.runs[id] = FakeRun(arg)
        if self.ends_with is not None:
            self.finish(id, self.ends_with)
        return FakeHandle(self, id)

    async def execute_workflow(self, _workflow: Any, arg: Any, *, id: str, **_: Any) -> Any:
        """Ends at once: with the result a test put in `runs[id]` beforehand, else None."""
        self.calls.append(f"execute_workflow {id}")
        self.runs.setdefault(id, FakeRun(arg, WorkflowExecutionStatus.COMPLETED)).input = arg
        return await FakeHandle(self, id).result()

    def get_workflow_handle(self, workflow_id: str, *_: Any, **kwargs: Any) -> FakeHandle:
        return FakeHandle(self, workflow_id, kwargs.get("run_id"), typed="result_type" in kwargs)

    def get_workflow_handle_for(
        self, _workflow: Any, workflow_id: str, *_: Any, **kwargs: Any
    ) -> FakeHandle:
        return FakeHandle(self, workflow_id, kwargs.get("run_id"))

    def list_workflows(self, *_: Any, **__: Any) -> AsyncIterator[Any]:
        async def nothing() -> AsyncIterator[Any]:
            return
            yield

        return nothing()

    def finish(self, workflow_id: str, result: Any) -> None:
        """The workflow ends with `result`."""
        run = self.runs[workflow_id]
        run.status, run.result = WorkflowExecutionStatus.COMPLETED, result

    def fail(self, workflow_id: str, message: str) -> None:
        run = self.runs[workflow_id]
        run.status, run.failure = WorkflowExecutionStatus.FAILED, message

    def __getattr__(self, name: str) -> Any:
        """Any other client call (signal-with-start, updates...): recorded, then not found."""

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(f"{name} {kwargs.get('id', args[1:2])}")
            raise not_found()

        return call


class FakeContext(Context):
    """The API's Context with the Temporal double as its client."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.temporal = FakeTemporal()

    async def client(self) -> Any:
        return self.temporal


def fake_settings(home: Path) -> Settings:
    """A private MCIS_HOME, the tests' API credentials, no cloud."""
    env = {**isolated_env(home, "mcis-api-test"), **CREDENTIALS}
    return load_settings({**env, "MCIS_LOCALCLOUD_ENABLED": "false"})


def fake_app(home: Path) -> tuple[FastAPI, FakeContext]:
    ctx = FakeContext(fake_settings(home))
    return create_app(ctx.settings, ctx), ctx


def http_client(app: FastAPI) -> httpx.AsyncClient:
    """An httpx client of the app over ASGI, with the credentials."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://api", auth=(USERNAME, PASSWORD))


def seed_mcis(ctx: Context, namespace: str, name: str, vms: int, ssh_key: str = "") -> None:
    """The namespace, and an MCIS of `vms` Running VMs (group g1, aws us-east-1) in the store."""
    if ctx.store.get_namespace(namespace) is None:
        ctx.store.create_namespace(NamespaceRecord(name=namespace))
    ctx.store.create_mcis(McisRecord(namespace=namespace, name=name, uid=f"uid-{name}"))
    ctx.store.upsert_vms(
        VmRecord(
            namespace=namespace,
            mcis=name,
            name=f"g1-{n}",
            group="g1",
            provider="aws",
            region="us-east-1",
            spec="aws+us-east-1+t3.small",
            image="aws+us-east-1+ubuntu-jammy-22.04-amd64-server",
            client_token=f"token-{name}-{n}",
            serial=n,
            csp_id=f"i-{n}",
            status=VmStatus.RUNNING,
            public_ip=f"10.250.0.{n}",
            ssh_key=ssh_key,
        )
        for n in range(1, vms + 1)
    )


def resource_record(
    kind: ResourceKind, name: str, csp_id: str = "", **fields: Any
) -> ResourceRecord:
    """A resource of namespace `dev` at aws us-east-1 (`csp_id` `csp-NAME` unless given)."""
    return ResourceRecord(
        namespace="dev",
        kind=kind,
        name=name,
        provider="aws",
        region="us-east-1",
        csp_id=csp_id or f"csp-{name}",
        **fields,
    )


async def refused(
    http: httpx.AsyncClient, method: str, path: str, body: object, status: int, says: str
) -> httpx.Response:
    """The answer to a request refused with `status` and a JSON message that says `says`."""
    answer = await http.request(method, path, json=body)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["message"], answer.text
    return answer


def refused_test(
    cases: Sequence[tuple[str, str, object, int, str]],
) -> Callable[..., Awaitable[None]]:
    """A test, for a module to name `test_...`, that each request of `cases` (method, path,
    body, status, what its message says) is refused with a JSON error and starts no workflow,
    on the module's app (`ctx_app`)."""

    @pytest.mark.parametrize(("method", "path", "body", "status", "says"), cases)
    async def test(
        http: httpx.AsyncClient,
        ctx: FakeContext,
        method: str,
        path: str,
        body: object,
        status: int,
        says: str,
    ) -> None:
        await refused(http, method, path, body, status, says)
        assert ctx.temporal.calls == [], ctx.temporal.calls

    return test
