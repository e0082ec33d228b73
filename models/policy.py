"""Auto-control policies (what users write) and the pure rules of their state machine: when a
condition holds over its evaluation period, which action may run now (bounds, floor, cool-down).
No I/O; the policy workflow drives it."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.apps import APPS
from models.mcis import MAX_VMS_PER_MCIS
from models.naming import Name
from models.operations import OperationRequest
from models.workflow_input import WorkflowInput


class Metric(StrEnum):
    CPU = "cpu"  # average CPU % of the VMs' allocation
    MEMORY = "memory"  # average memory % of the VMs' limit
    UNHEALTHY = "unhealthy"  # number of VMs that are Failed or Undefined


class Operator(StrEnum):
    GE = ">="
    GT = ">"
    LE = "<="
    LT = "<"


_COMPARE: dict[Operator, Callable[[float, float], bool]] = {
    Operator.GE: operator.ge,
    Operator.GT: operator.gt,
    Operator.LE: operator.le,
    Operator.LT: operator.lt,
}


class ActionKind(StrEnum):
    SCALE_OUT = "ScaleOut"
    SCALE_IN = "ScaleIn"
    SUSPEND = "Suspend"
    RESUME = "Resume"
    REPLACE = "Replace"  # drop unhealthy VMs and create as many anew


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: Metric
    operator: Operator
    operand: float = Field(allow_inf_nan=False)
    evaluation_period: int = Field(default=3, ge=1, le=1000)  # samples averaged

    def holds(self, samples: Sequence[float]) -> bool:
        """True when the mean of the last `evaluation_period` samples satisfies the condition
        (never before that many samples exist)."""
        if len(samples) < self.evaluation_period:
            return False
        window = samples[-self.evaluation_period :]
        return _COMPARE[self.operator](sum(window) / len(window), self.operand)

    @property
    def text(self) -> str:
        period = self.evaluation_period
        return f"{self.metric.value} {self.operator.value} {self.operand:g} over {period}"


class PolicyAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ActionKind
    count: int = Field(default=1, ge=1, le=100)
    group: Name | None = None  # the group to grow or shrink (default: the MCIS's first group)
    deploy: str | None = None  # an app to deploy on added VMs (e.g. nginx)
    post_commands: list[str] = Field(default_factory=list)  # run on added VMs

    @field_validator("deploy")
    @classmethod
    def _known_app(cls, value: str | None) -> str | None:
        if value is not None and value not in APPS:
            raise ValueError(f"unknown app {value!r} (known: {', '.join(sorted(APPS))})")
        return value


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    condition: Condition
    action: PolicyAction


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(min_length=1)
    sample_interval_s: float = Field(default=10.0, ge=0.1, le=86400)
    cooldown_s: float = Field(default=60.0, ge=0, le=86400)
    min_vms: int = Field(default=1, ge=0)
    max_vms: int = Field(default=100, ge=1, le=MAX_VMS_PER_MCIS)

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min_vms > self.max_vms:
            raise ValueError(f"min_vms {self.min_vms} is above max_vms {self.max_vms}")
        return self

    @property
    def history_length(self) -> int:
        return max(rule.condition.evaluation_period for rule in self.rules)


class PolicyState(StrEnum):
    READY = "Ready"
    CHECKING = "Checking"
    DETECTED = "Detected"
    OPERATING = "Operating"
    STABILIZING = "Stabilizing"
    FAILED = "Failed"
    ENDED = "Ended"  # deleted, or its MCIS is gone: the workflow has completed


MCIS_GONE = "McisGone"
"""Error type of a sample or an action whose MCIS is gone (deleted, or another MCIS of that name
now): the policy ends instead of failing at every check."""


class Decision(BaseModel):
    """One action the policy decided on, and how it ended."""

    seq: int
    at: datetime
    rule: int  # index of the rule whose condition held
    condition: str
    action: PolicyAction
    count: int  # the count actually asked for (bounds applied)
    outcome: str = ""


def choose_action(
    policy: Policy,
    samples: Mapping[Metric, Sequence[float]],
    vm_count: int,
    now: datetime,
    cooldown_until: datetime | None,
) -> tuple[int, int] | None:
    """The first rule whose condition holds and whose action can run now, with the count it may
    use (bounded by min/max VMs); None when nothing should happen."""
    if cooldown_until is not None and now < cooldown_until:
        return None
    for index, rule in enumerate(policy.rules):
        if not rule.condition.holds(samples.get(rule.condition.metric, ())):
            continue
        action = rule.action
        if action.kind is ActionKind.SCALE_OUT:
            count = min(action.count, policy.max_vms - vm_count)
        elif action.kind is ActionKind.SCALE_IN:
            count = min(action.count, vm_count - policy.min_vms)
        else:
            count = action.count
        if count > 0:
            return index, count
    return None


def cooldown_end(policy: Policy, ended: datetime) -> datetime:
    return ended + timedelta(seconds=policy.cooldown_s)


def seed_demo_policy(group: str, floor: int) -> Policy:
    """The seed's demo: average CPU >= 80 % over 3 samples -> scale out +1 with nginx;
    <= 60 % -> scale in -1, never below `floor` VMs."""
    return Policy(
        rules=[
            Rule(
                condition=Condition(metric=Metric.CPU, operator=Operator.GE, operand=80),
                action=PolicyAction(kind=ActionKind.SCALE_OUT, group=group, deploy="nginx"),
            ),
            Rule(
                condition=Condition(metric=Metric.CPU, operator=Operator.LE, operand=60),
                action=PolicyAction(kind=ActionKind.SCALE_IN, group=group),
            ),
        ],
        min_vms=floor,
    )


class MetricsQuery(BaseModel):
    namespace: str
    mcis: str
    mcis_uid: str | None = None  # the MCIS the policy is for (None: whichever has that name)


class MetricsSample(BaseModel):
    """One look at an MCIS: each metric averaged over its Running VMs."""

    at: datetime
    vm_count: int  # VMs that count against min/max (not Terminated)
    values: dict[Metric, float]
    per_vm: dict[str, dict[Metric, float]] = Field(default_factory=dict)


class McisOperationCall(BaseModel):
    """An operation a policy sends to its MCIS's workflow."""

    namespace: str
    mcis: str
    request: OperationRequest


class PolicyCarry(BaseModel):
    """What a policy workflow carries across continue-as-new."""

    uid: str
    samples: dict[Metric, list[float]] = Field(default_factory=dict)
    decisions: list[Decision] = Field(default_factory=list)
    next_seq: int = 1
    cooldown_until: datetime | None = None
    paused: bool = False
    checks: int = 0
    runs: int = 1


class PolicyWorkflowInput(WorkflowInput):
    carried = "carry"

    namespace: Name
    mcis: Name
    policy: Policy
    mcis_uid: str | None = None  # the MCIS it is for: one created anew under that name is not
    carry: PolicyCarry | None = None


class PolicyView(BaseModel):
    """`mcis policy status --json`."""

    namespace: str
    mcis: str
    state: PolicyState
    paused: bool
    policy: Policy
    samples: dict[Metric, list[float]]
    last_sample: MetricsSample | None
    decisions: list[Decision]
    cooldown_until: datetime | None
    checks: int
    runs: int  # continue-as-new generations so far
    last_error: str | None = None
    ended: str | None = None  # why it ended (state Ended)
