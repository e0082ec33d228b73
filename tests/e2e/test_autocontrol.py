"""Auto-control end to end: with real VMs and real CPU load, the seed's policy scales out within
two sample intervals of its condition holding, exactly once even though the worker is killed -9
while Operating, and scales back in once the load stops; `mcis delete` ends the MCIS's policy,
so an MCIS created anew under that name starts without one."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from models.policy import seed_demo_policy
from tests.e2e.conftest import E2E
from tests.e2e.test_create_delete import groups_for
from tests.e2e.test_worker_crash import wait_until

pytestmark = pytest.mark.e2e

INTERVAL_S = 2.0


def policy_view(real: E2E) -> dict[str, Any]:
    return dict(real.json("policy", "status", "real", "auto"))


@pytest.mark.realvm
def test_policy_scales_out_once_across_a_worker_kill_then_back_in(
    real: E2E, tmp_path: Path
) -> None:
    real.json("create", "real", "auto", *groups_for(real, {"aws": 2}))
    policy = seed_demo_policy("g1", floor=2).model_copy(
        update={"sample_interval_s": INTERVAL_S, "cooldown_s": 2 * INTERVAL_S, "max_vms": 3}
    )
    for rule in policy.rules:
        rule.condition.evaluation_period = 2
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(policy.model_dump(mode="json")))
    real.json("policy", "create", "real", "auto", "-f", str(policy_file))
    try:
        loaded_at = time.monotonic()
        real.json("load", "real", "auto", "--cpu", "100", "--duration", "120")
        wait_until(lambda: policy_view(real)["state"] == "Operating", 60, "Operating")
        detected_after = time.monotonic() - loaded_at
        real.stack.kill_component("worker", signal.SIGKILL)
        time.sleep(1.0)
        real.stack.start_component("worker")
        wait_until(lambda: bool(policy_view(real)["decisions"][0]["outcome"]), 120, "the scale-out")
        decision = policy_view(real)["decisions"][0]
        status = real.json("status", "real", "auto")
        assert decision["action"]["kind"] == "ScaleOut"
        assert decision["outcome"].startswith("done: added 1 VMs"), decision
        assert [op["kind"] for op in status["operations"]] == ["create", "scale-out"]
        assert status["counts"] == {"Running": 3}
        assert len(real.cloud_vms(status["uid"])) == 3
        # condition over 2 samples + at most two more intervals (sampling lag, CLI polling),
        # and the CLI processes that load and poll starting on a busy machine (up to 2 s each)
        assert detected_after <= (2 + 2) * INTERVAL_S + 8, detected_after

        real.json("load", "real", "auto", "--stop")
        wait_until(
            lambda: (
                len(policy_view(real)["decisions"]) >= 2
                and bool(policy_view(real)["decisions"][1]["outcome"])
            ),
            120,
            "the scale-in",
        )
        back = policy_view(real)["decisions"][1]
        assert back["action"]["kind"] == "ScaleIn" and back["outcome"].startswith("done")
        assert real.json("status", "real", "auto")["counts"] == {"Running": 2}
    finally:
        real.run("policy", "delete", "real", "auto")
        real.run("delete", "real", "auto")


def test_mcis_delete_ends_its_policy_and_a_new_mcis_of_that_name_has_none(
    e2e: E2E, tmp_path: Path
) -> None:
    e2e.ok("ns", "create", "autoctl")
    groups = groups_for(e2e, {"aws": 1})
    e2e.json("create", "autoctl", "web", *groups)
    policy = seed_demo_policy("g1", floor=1).model_copy(update={"sample_interval_s": 3600})
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(policy.model_dump(mode="json")))
    e2e.json("policy", "create", "autoctl", "web", "-f", str(policy_file))
    e2e.json("delete", "autoctl", "web")  # long before the policy's first check
    ended = e2e.json("policy", "status", "autoctl", "web")
    assert (ended["state"], ended["ended"]) == (
        "Ended",
        "MCIS 'web' of namespace 'autoctl' was deleted",
    )
    e2e.json("create", "autoctl", "web", *groups)
    assert e2e.json("policy", "status", "autoctl", "web")["state"] == "Ended"
    paused = e2e.run("policy", "pause", "autoctl", "web")
    assert paused.returncode != 0
    assert "no policy runs for MCIS 'web' in namespace 'autoctl'" in paused.stderr
    e2e.json("delete", "autoctl", "web")  # no policy left to end: the delete still succeeds
