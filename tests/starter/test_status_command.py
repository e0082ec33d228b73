"""`mcis status` (and the status a lifecycle command ends with) of an MCIS too large for its
status query to list the VMs (`vms_listed` False): the rows come from the store, a page at a
time, and the table and `--json` still show every VM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from models.lifecycle import OperationKind, OperationRecord, OperationState
from models.mcis import McisView
from models.records import McisRecord, VmRecord
from models.status import VmStatus
from settings import load_settings
from starter import lifecycle_commands, mcis_commands
from starter.cli import execute
from store.repository import Store
from tests.starter.fakes import FakeHandle, S, view

VMS = 1234


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("MCIS_HOME", str(tmp_path))
    monkeypatch.delenv("MCIS_DATABASE_URL", raising=False)
    store = Store.from_settings(load_settings())
    yield store
    store.close()


def record(index: int, status: VmStatus) -> VmRecord:
    return VmRecord(
        namespace="dev",
        mcis="web",
        name=f"g-{index}",
        group="g",
        provider="gcp",
        region="us-central1",
        spec="gcp+us-central1+e2-small",
        image="gcp+us-central1+ubuntu-2204-lts",
        client_token=f"token-{index}",
        csp_id=f"vm-{index}",
        status=status,
        native_status="RUNNING" if status is S.RUNNING else None,
        public_ip=f"10.9.{index // 256}.{index % 256}",
        error="QuotaExceeded" if status is S.FAILED else None,
    )


def store_vms(store: Store) -> None:
    store.create_mcis(McisRecord(namespace="dev", name="web", uid="uid-1"))
    store.upsert_vms(record(i, S.FAILED if i > VMS - 7 else S.RUNNING) for i in range(1, VMS + 1))


def large_view(operation: OperationRecord | None = None) -> McisView:
    big = view({S.RUNNING: VMS - 7, S.FAILED: 7}, phase="active", listed=False)
    return big.model_copy(update={"operation": operation, "operations": [operation]})


def pages_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every page `Store.vm_page` returns from now on."""
    sizes: list[int] = []
    read = Store.vm_page

    def spy(self: Store, namespace: str, mcis: str, after: str, limit: int) -> list[VmRecord]:
        rows = read(self, namespace, mcis, after, limit)
        sizes.append(len(rows))
        return rows

    monkeypatch.setattr(Store, "vm_page", spy)
    return sizes


def answer_with(monkeypatch: pytest.MonkeyPatch, *views: McisView) -> FakeHandle:
    handle = FakeHandle(list(views) * 3)

    async def running_handle(*_: Any) -> Any:
        return handle.typed()

    monkeypatch.setattr(mcis_commands, "running_handle", running_handle)
    monkeypatch.setattr(lifecycle_commands, "running_handle", running_handle)
    return handle


def status_of(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = execute(list(argv))
    return code, capsys.readouterr().out


def test_status_json_lists_every_vm_of_a_large_mcis(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store_vms(store)
    answer_with(monkeypatch, large_view())
    pages = pages_read(monkeypatch)
    code, out = status_of(capsys, "status", "dev", "web", "--json")
    assert code == 0
    shown = json.loads(out)
    assert (shown["total"], shown["vms_listed"]) == (VMS, True)
    assert [vm["id"] for vm in shown["vms"]] == [f"g-{i}" for i in range(1, VMS + 1)]
    assert shown["vms"][0] == {
        "id": "g-1",
        "group": "g",
        "status": "Running",
        "native_status": "RUNNING",
        "provider": "gcp",
        "region": "us-central1",
        "spec": "gcp+us-central1+e2-small",
        "image": "gcp+us-central1+ubuntu-2204-lts",
        "public_ip": "10.9.0.1",
        "private_ip": None,
        "csp_id": "vm-1",
        "error": None,
    }
    assert [vm["id"] for vm in shown["vms"] if vm["status"] == "Failed"] == shown["failed_vms"]
    assert pages == [1000, 234]  # read a page at a time


def test_status_table_of_a_large_mcis_shows_the_summary_every_row_and_the_counts(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store_vms(store)
    answer_with(monkeypatch, large_view())
    code, out = status_of(capsys, "status", "dev", "web")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (
        "MCIS dev/web  Partial-Running (1227/1234), "
        "Failed: g-1228, g-1229, g-1230, g-1231, g-1232 and 2 more  phase: active"
    )
    assert lines[1].split() == ["VM", "GROUP", "STATUS", "NATIVE", "CLOUD", "REGION", "IP", "ERROR"]
    rows = lines[2:-1]
    assert [row.split()[0] for row in rows] == [f"g-{i}" for i in range(1, VMS + 1)]
    assert rows[-1].split() == [
        "g-1234", "g", "Failed", "-", "gcp", "us-central1", "10.9.4.210", "QuotaExceeded"
    ]  # fmt: skip
    assert lines[-1] == "1234 VMs: Running 1227, Failed 7"


def test_status_of_a_small_mcis_is_the_workflows_answer(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answer_with(monkeypatch, view({S.RUNNING: 2, S.CREATING: 1}, phase="creating"))
    pages = pages_read(monkeypatch)
    code, out = status_of(capsys, "status", "dev", "web", "--json")
    assert code == 0
    shown = json.loads(out)
    assert [(vm["id"], vm["status"]) for vm in shown["vms"]] == [
        ("g-1", "Running"),
        ("g-2", "Running"),
        ("g-3", "Creating"),
    ]
    assert pages == []  # the store is not read


def test_an_operation_on_a_large_mcis_ends_with_every_vm(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store_vms(store)
    done = OperationRecord(id=1, kind=OperationKind.REBOOT, scope="mcis", state=OperationState.DONE)
    handle = answer_with(monkeypatch, large_view(done))

    async def accept(*_: Any) -> OperationRecord:
        return done.model_copy(update={"state": OperationState.QUEUED})

    monkeypatch.setattr(handle, "execute_update", accept, raising=False)
    code, out = status_of(capsys, "reboot", "dev", "web", "--json")
    assert code == 0
    shown = json.loads(out)
    assert len(shown["vms"]) == VMS and shown["vms_listed"] is True
    assert shown["operations"][0]["state"] == "done"
