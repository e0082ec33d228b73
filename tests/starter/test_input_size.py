"""A workflow input over MAX_WORKFLOW_INPUT_BYTES encoded is refused by the CLI before any
workflow starts: one line naming the size and the limit, exit 2 (bad input)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter

from models.operations import McisWorkflowInput
from models.workflow_input import MAX_WORKFLOW_INPUT_BYTES
from starter import mcis_commands
from starter.cli import execute
from starter.context import Context
from starter.errors import CliError, check_input_size

SPEC, IMAGE = "aws+us-east-1+t3.small", "aws+us-east-1+ubuntu-jammy-22.04-amd64-server"


class Started:
    """A Temporal client that records the workflows it is asked to start."""

    data_converter = pydantic_data_converter

    def __init__(self) -> None:
        self.inputs: list[Any] = []

    async def start_workflow(self, _workflow: Any, arg: Any, **options: Any) -> Any:
        self.inputs.append(arg)

        class Handle:
            id = options["id"]
            result_run_id = "run-1"

        return Handle()


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Started:
    monkeypatch.setenv("MCIS_HOME", str(tmp_path))
    monkeypatch.delenv("MCIS_DATABASE_URL", raising=False)
    started = Started()

    async def connected(_ctx: Context) -> Any:
        return started

    async def checked(*_: Any) -> None:
        return None  # the namespace and the catalog hold the request (tested elsewhere)

    monkeypatch.setattr(Context, "client", connected)
    monkeypatch.setattr(mcis_commands, "check_request", checked)
    return started


def request_file(tmp_path: Path, groups: int) -> str:
    path = tmp_path / "request.json"
    request = {
        "name": "web",
        "groups": [
            {"name": f"g{i}", "spec": SPEC, "image": IMAGE, "count": 1} for i in range(groups)
        ],
    }
    path.write_text(json.dumps(request))
    return str(path)


def create(capsys: pytest.CaptureFixture[str], path: str) -> tuple[int, str, list[str]]:
    capsys.readouterr()
    code = execute(["create", "dev", "-f", path, "--no-wait"])
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


def test_a_request_too_large_for_a_workflow_input_is_refused_before_it_starts(
    client: Started, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 3,000 groups of one VM: within the VM limit, over 512 KiB as a workflow input
    code, out, err = create(capsys, request_file(tmp_path, 3000))
    assert code == 2 and out == ""
    [line] = err
    said = re.fullmatch(
        r"mcis: MCIS request 'web' is too large: \d+ KiB \(([\d,]+) bytes\) encoded, the limit "
        r"is 512 KiB \(524,288 bytes\); give fewer groups \(a group holds up to 10,000 VMs\)",
        line,
    )
    assert said, line
    assert int(said[1].replace(",", "")) > MAX_WORKFLOW_INPUT_BYTES
    assert client.inputs == []  # no workflow started


def test_a_request_within_the_limit_starts(
    client: Started, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = create(capsys, request_file(tmp_path, 2500))
    assert (code, err) == (0, [])
    assert out == "creating MCIS dev/web (2500 VMs): mcis/dev/web\n"
    [started] = client.inputs
    assert isinstance(started, McisWorkflowInput) and len(started.request.groups) == 2500


async def test_the_size_is_the_encoded_payloads() -> None:
    converter = pydantic_data_converter
    await check_input_size(converter, "x" * (MAX_WORKFLOW_INPUT_BYTES - 100), "a text")
    with pytest.raises(CliError, match=r"^a text is too large: 1\.0 MiB \(") as refused:
        await check_input_size(converter, "x" * 2**20, "a text")
    assert refused.value.exit_code == 2
