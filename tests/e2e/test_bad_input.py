"""Bad input through the real CLI: one clear line on stderr, exit code 2, nothing created."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from starter.processes import free_port
from tests.e2e.conftest import E2E

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ids(e2e: E2E) -> dict[str, str]:
    e2e.ok("ns", "create", "bad")
    spec = e2e.json("catalog", "specs", "--provider", "aws", "--region", "us-east-1")[0]["id"]
    image = e2e.json("catalog", "images", "--provider", "aws", "--region", "us-east-1")[0]["id"]
    other_region = e2e.json("catalog", "images", "--provider", "aws", "--region", "eu-west-1")
    return {"spec": spec, "image": image, "far_image": other_region[0]["id"]}


def rejected(e2e: E2E, *args: str) -> str:
    done = e2e.run(*args)
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mcis: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def test_each_bad_create_is_one_clear_line_and_creates_nothing(
    e2e: E2E, ids: dict[str, str], tmp_path: Path
) -> None:
    spec, image = ids["spec"], ids["image"]
    good = f"{spec},{image},1"
    cases = {
        "unknown spec": (
            ["create", "bad", "m1", "--group", f"aws+us-east-1+nope,{image},1"],
            "unknown spec 'aws+us-east-1+nope'",
        ),
        "unknown image": (
            ["create", "bad", "m1", "--group", f"{spec},aws+us-east-1+nope,1"],
            "unknown image 'aws+us-east-1+nope'",
        ),
        "unknown namespace": (
            ["create", "nope", "m1", "--group", good],
            "namespace 'nope' does not exist",
        ),
        "invalid name": (["create", "bad", "Bad_Name", "--group", good], "MCIS name 'Bad_Name'"),
        "count below 1": (
            ["create", "bad", "m1", "--group", f"{spec},{image},0"],
            "greater than or equal to 1",
        ),
        "regions differ": (
            ["create", "bad", "m1", "--group", f"{spec},{ids['far_image']},1"],
            "different clouds or regions",
        ),
        "unknown cloud": (
            ["create", "bad", "m1", "--group", "nocloud+r+s,nocloud+r+i,1"],
            "unknown cloud 'nocloud'",
        ),
        "malformed group": (
            ["create", "bad", "m1", "--group", "just-one-part"],
            "expected SPEC_ID,IMAGE_ID,COUNT",
        ),
    }
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("name: [unclosed\n")
    cases["malformed yaml"] = (["create", "bad", "-f", str(bad_yaml)], "not valid YAML/JSON")
    for what, (args, expected) in cases.items():
        line = rejected(e2e, *args)
        assert expected in line, f"{what}: {line}"
    assert e2e.json("list", "bad") == []
    assert e2e.cloud("/admin/vms?tag:mcis-namespace=bad") == []


def test_creating_an_existing_mcis_is_refused(e2e: E2E, ids: dict[str, str]) -> None:
    group = f"{ids['spec']},{ids['image']},1"
    e2e.ok("create", "bad", "once", "--group", group, timeout=300)
    line = rejected(e2e, "create", "bad", "once", "--group", group)
    assert "MCIS 'once' already exists in namespace 'bad'" in line
    assert len(e2e.cloud("/admin/vms?tag:mcis-name=once")) == 1
    e2e.ok("delete", "bad", "once", timeout=300)


def test_unreachable_services_are_named(e2e: E2E, ids: dict[str, str]) -> None:
    dead = f"127.0.0.1:{free_port()}"
    env = {**e2e.env, "TEMPORAL_ADDRESS": dead}
    done = subprocess.run(
        [sys.executable, "-m", "starter", "status", "bad", "x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and f"cannot reach Temporal at {dead}" in done.stderr
    env = {**e2e.env, "MCIS_LOCALCLOUD_URL": f"http://{dead}"}
    done = subprocess.run(
        [sys.executable, "-m", "starter", "catalog", "specs"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and dead in done.stderr and "Traceback" not in done.stderr
    assert os.environ.get("TEMPORAL_ADDRESS") != dead
