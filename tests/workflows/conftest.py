"""Workflow tests run on Temporal's time-skipping test server with the in-memory fake cloud
and a real store on a temporary SQLite file."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.deps import ActivityDeps
from activities.registry import all_activities
from store.repository import Store
from tests.conftest import venv_binary
from tests.fake_cloud import FakeCloud, FakeDriver
from workflows.registry import ALL_WORKFLOWS, workflow_runner
from workflows.search_attributes import ALL_KEYS

PROVIDERS = ("aws", "gcp")


@pytest.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    await environment.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=environment.client.namespace,
            search_attributes={
                key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in ALL_KEYS
            },
        )
    )
    yield environment
    await environment.shutdown()


@pytest.fixture
def cloud() -> FakeCloud:
    return FakeCloud()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield Store(f"sqlite:///{tmp_path / 'mcis.db'}", tmp_path)


class Harness:
    def __init__(self, client: Client, store: Store, cloud: FakeCloud) -> None:
        self.client, self.store, self.cloud = client, store, cloud
        self.task_queue = f"test-{uuid.uuid4()}"
        # the activities' drivers by cloud: a test may remove one (a connection gone) or swap it
        self.drivers: dict[str, FakeDriver] = {p: FakeDriver(p, cloud) for p in PROVIDERS}
        self.deps = ActivityDeps(drivers=self.drivers, store=store, temporal=client)

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[Worker]:
        async with Worker(
            self.client,
            task_queue=self.task_queue,
            workflows=ALL_WORKFLOWS,
            activities=all_activities(self.deps),
            workflow_runner=workflow_runner(),
        ) as worker:
            yield worker


@pytest.fixture
def harness(env: WorkflowEnvironment, store: Store, cloud: FakeCloud) -> Harness:
    return Harness(env.client, store, cloud)


@pytest.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's dev server: the time-skipping test server fails the workflow task that cancels
    an activity in flight now and then (`ACTIVITY_UNKNOWN for scheduledEventId`), and the
    Update waiting on it never returns."""
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=ALL_KEYS,
    )
    yield environment
    await environment.shutdown()
