"""The auto-control rules: a condition holds over its evaluation period, the first applicable rule
wins, bounds cap counts, cool-down silences, bad policies are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from models.policy import (
    ActionKind,
    Condition,
    Metric,
    Operator,
    Policy,
    choose_action,
    seed_demo_policy,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("operator", "operand", "samples", "holds"),
    [
        (">=", 80, [90, 85, 80], True),
        (">=", 80, [90, 85, 60], False),  # mean 78.3
        (">=", 80, [10, 90, 85, 80], True),  # only the last 3 count
        (">=", 80, [95, 95], False),  # not enough samples yet
        ("<=", 60, [60, 50, 70], True),
        ("<", 60, [60, 60, 60], False),
        (">", 79.9, [80, 80, 80], True),
    ],
)
def test_condition_over_its_period(
    operator: str, operand: float, samples: list[float], holds: bool
) -> None:
    condition = Condition(metric=Metric.CPU, operator=Operator(operator), operand=operand)
    assert condition.holds(samples) is holds


def test_first_holding_rule_wins_and_bounds_cap_the_count() -> None:
    policy = seed_demo_policy("web", floor=6)
    high, low = {Metric.CPU: [90.0, 90, 90]}, {Metric.CPU: [10.0, 10, 10]}
    assert choose_action(policy, high, vm_count=6, now=NOW, cooldown_until=None) == (0, 1)
    assert choose_action(policy, low, vm_count=7, now=NOW, cooldown_until=None) == (1, 1)
    assert choose_action(policy, low, vm_count=6, now=NOW, cooldown_until=None) is None  # floor
    capped = policy.model_copy(update={"max_vms": 6})
    assert choose_action(capped, high, vm_count=6, now=NOW, cooldown_until=None) is None
    assert choose_action(policy, {Metric.CPU: [70.0] * 3}, 7, NOW, None) is None


def test_cooldown_silences_every_rule_until_it_ends() -> None:
    policy = seed_demo_policy("web", floor=1)
    high = {Metric.CPU: [99.0] * 3}
    until = NOW + timedelta(seconds=60)
    assert choose_action(policy, high, 3, NOW, until) is None
    assert choose_action(policy, high, 3, until, until) == (0, 1)


def test_seed_demo_policy_is_the_talks() -> None:
    policy = seed_demo_policy("web", floor=6)
    out, back = policy.rules
    assert (out.condition.text, out.action.kind, out.action.deploy) == (
        "cpu >= 80 over 3",
        ActionKind.SCALE_OUT,
        "nginx",
    )
    assert (back.condition.text, back.action.kind, policy.min_vms) == (
        "cpu <= 60 over 3",
        ActionKind.SCALE_IN,
        6,
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rules": []}, "at least 1 item"),
        (
            {
                "rules": [
                    {
                        "condition": {"metric": "disk", "operator": ">=", "operand": 1},
                        "action": {"kind": "ScaleOut"},
                    }
                ]
            },
            "'cpu', 'memory' or 'unhealthy'",
        ),
        (
            {
                "rules": [
                    {
                        "condition": {"metric": "cpu", "operator": "=>", "operand": 1},
                        "action": {"kind": "ScaleOut"},
                    }
                ]
            },
            "'>=', '>', '<=' or '<'",
        ),
        (
            {
                "min_vms": 5,
                "max_vms": 2,
                "rules": [
                    {
                        "condition": {"metric": "cpu", "operator": ">", "operand": 1},
                        "action": {"kind": "ScaleIn"},
                    }
                ],
            },
            "min_vms 5 is above max_vms 2",
        ),
    ],
)
def test_bad_policies_are_refused(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Policy.model_validate(data)
