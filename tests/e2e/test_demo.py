"""`make demo` as an end-to-end test: the demo's scenario at the tests' pace on the e2e stack
(phantom VMs, simulated load): the seed's load cycle twice gives two scale-outs and two
scale-ins in that order, every VM Running after each, and the clean-up leaves no VM of the demo
at the cloud and no workflow of it running (`mcis delete` ended the policy)."""

from __future__ import annotations

import time

import pytest

from starter.demo import CYCLES, FAST, FLOOR, MCIS, NAMESPACE, scenario
from tests.e2e.conftest import E2E

pytestmark = pytest.mark.e2e


def test_demo_scales_out_and_in_twice_and_leaves_nothing(e2e: E2E) -> None:
    started = time.monotonic()
    report = scenario(e2e.env, FAST)
    took = time.monotonic() - started

    assert report.kinds() == ["ScaleOut", "ScaleIn"] * CYCLES, report.steps
    for step in report.steps:
        assert step.outcome.startswith("done"), step
        assert step.all_running, step
    sizes = [sum(step.counts.values()) for step in report.steps]
    assert sizes == [FLOOR + 1, FLOOR] * CYCLES
    assert report.policy_ended == f"MCIS {MCIS!r} of namespace {NAMESPACE!r} was deleted"
    assert report.left_at_cloud == []
    assert report.running_workflows == []
    assert e2e.run("status", NAMESPACE, MCIS).returncode == 2  # the MCIS is gone
    print(f"\n{report.summary()} ({took:.1f} s)")
