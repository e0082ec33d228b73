"""The local cloud's batch calls in process (Engine over a CloudState, phantom VMs, a fixed clock):
a batch's SQL does not grow with what each VM would read on its own (timings, fault settings,
references, addresses in use): that is what keeps a batch of 250 fast among 10,000 VMs.
Addresses stay unique across a batch, and a batch answers what the per-VM calls would."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud.engine import Engine, PhantomBackend
from localcloud.errors import ApiError
from localcloud.faults import Faults
from localcloud.resources import Resources, generate_key_pair
from localcloud.schemas import KeyPairBody, SecurityGroupBody, SubnetBody, VmBody, VnetBody
from localcloud.state import CloudState, Vm

FLAVOR, REGION = "aws", "us-west-2"
NOW = 1_000_000.0
BATCH = 250


class Cloud:
    """An engine over a fresh store, with one vNet (two /24 subnets), group and key pair; it
    records every SQL statement the store runs."""

    def __init__(self, path: Path) -> None:
        self.store = CloudState(path)
        self.faults = Faults(self.store, random.Random(5))
        self.engine = Engine(self.store, self.faults, PhantomBackend(), 0.01, lambda: NOW)
        resources = Resources(self.store, lambda: NOW)
        subnets = [SubnetBody(name=f"s{i}", cidr=f"10.0.{i}.0/24") for i in range(2)]
        with self.store.transaction():
            vnet, _ = resources.ensure_vnet(
                FLAVOR, REGION, VnetBody(name="n", cidr="10.0.0.0/16", subnets=subnets)
            )
            group, _ = resources.ensure_security_group(
                FLAVOR, REGION, SecurityGroupBody(name="g", vnet_id=vnet.id)
            )
            key = KeyPairBody(name="k", public_key=generate_key_pair()[1])
            resources.create_key_pair(FLAVOR, REGION, key)
        self.vnet_id, self.group_id = vnet.id, group.id
        self.subnets = [s["id"] for s in vnet.subnets]
        self._statements: list[str] = []
        self.store._db.set_trace_callback(self._statements.append)

    def body(self, token: str, subnet: int = 0) -> VmBody:
        return VmBody(
            name=f"vm-{token}",
            spec="t3.micro",
            image="debian-12-amd64",
            vnet_id=self.vnet_id,
            subnet_id=self.subnets[subnet],
            security_group_ids=[self.group_id],
            key_name="k",
            client_token=token,
            tags={"batch": "yes"},
        )

    def create(self, bodies: list[VmBody]) -> list[tuple[Vm, bool] | ApiError]:
        with self.store.transaction():
            return self.engine.create_vms(FLAVOR, REGION, bodies)

    def act(self, action: str, ids: list[str]) -> list[Vm | ApiError | None]:
        with self.store.transaction():
            return self.engine.act_on_vms(FLAVOR, REGION, action, ids)

    def statements(self) -> Counter[str]:
        """SELECT, INSERT, UPDATE ... statements run since the last call, by kind."""
        kinds = Counter(s.split(None, 1)[0].upper() for s in self._statements)
        self._statements.clear()
        return kinds


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    made = Cloud(tmp_path / "cloud.db")
    yield made
    made.store.close()


def made_vms(results: list[tuple[Vm, bool] | ApiError]) -> list[Vm]:
    assert not [r for r in results if isinstance(r, ApiError)], results
    return [r[0] for r in results if not isinstance(r, ApiError)]


def test_a_batch_reads_once_what_each_vm_would_read(cloud: Cloud) -> None:
    bodies = [cloud.body(f"t{i}") for i in range(BATCH)]
    cloud.statements()
    made = made_vms(cloud.create(bodies))
    created = cloud.statements()
    assert created["INSERT"] == BATCH and created["SELECT"] <= 12, created
    again = made_vms(cloud.create(bodies))  # a retry: every VM found by its token
    assert [vm.id for vm in again] == [vm.id for vm in made]
    retried = cloud.statements()
    assert retried["INSERT"] == 0 and retried["SELECT"] <= 5, retried
    ids = [vm.id for vm in made]
    assert all(isinstance(vm, Vm) for vm in cloud.act("terminate", ids))
    acted = cloud.statements()
    assert acted["UPDATE"] == BATCH and acted["SELECT"] <= 5, acted
    with cloud.store.transaction():
        assert len(cloud.engine.vms({"batch": "yes"}, FLAVOR, REGION)) == BATCH
    listed = cloud.statements()
    assert listed["SELECT"] <= 3 and listed["UPDATE"] == 0, listed


def test_a_token_repeated_in_a_batch_is_one_vm(cloud: Cloud) -> None:
    results = cloud.create([cloud.body("a"), cloud.body("b"), cloud.body("a")])
    assert not [r for r in results if isinstance(r, ApiError)]
    (a, a_new), (b, b_new), (again, again_new) = (r for r in results if isinstance(r, tuple))
    assert (a_new, b_new, again_new) == (True, True, False) and again.id == a.id != b.id
    other = cloud.body("a").model_copy(update={"spec": "t3.large"})
    [conflict] = cloud.create([other])
    assert isinstance(conflict, ApiError) and conflict.code == "Conflict"


def test_addresses_stay_unique_and_a_full_subnet_refuses_only_the_vms_beyond_it(
    cloud: Cloud,
) -> None:
    with cloud.store.transaction():
        first = [
            cloud.engine.create_vm(FLAVOR, REGION, cloud.body(f"one-{i}"))[0] for i in range(3)
        ]
    results = cloud.create([cloud.body(f"full-{i}") for i in range(BATCH)])  # 251 hosts a /24
    made = [r[0] for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, ApiError)]
    assert len(made) == 248 and results[-2:] == refused
    assert all(r.code == "QuotaExceeded" and "no free address" in r.message for r in refused)
    elsewhere = made_vms(cloud.create([cloud.body(f"other-{i}", subnet=1) for i in range(2)]))
    everyone = first + made + elsewhere
    assert len({vm.public_ip for vm in everyone}) == len({vm.id for vm in everyone}) == 253
    assert len({vm.private_ip for vm in everyone}) == 253
    assert {vm.private_ip for vm in elsewhere} == {"10.0.1.4", "10.0.1.5"}


def test_an_action_answers_each_vm_on_its_own(cloud: Cloud) -> None:
    a, b = made_vms(cloud.create([cloud.body("a"), cloud.body("b")]))  # booting (fixed clock)
    codes = [r.code if isinstance(r, ApiError) else r for r in cloud.act("suspend", [a.id, "x"])]
    assert codes == ["IncorrectState", "NotFound"]
    terminated = cloud.act("terminate", [a.id, "x", b.id, a.id])
    assert [r.id if isinstance(r, Vm) else r.code for r in terminated if r is not None] == [
        *(a.id, "NotFound", b.id, a.id)
    ]
