"""Inputs for tests that run VM activities directly (ActivityEnvironment): one planned VM of a
one-VM MCIS `ns/m` in aws r1, the network it is created in; and a read limiter that counts the
turns it gives."""

from __future__ import annotations

from collections import Counter

from drivers.rate_limit import RateLimiter
from models.mcis import McisRequest
from models.operations import CreateVmInput, NetworkRefs
from models.plan import plan_vms
from models.records import VmRecord

NAMESPACE, MCIS, UID, REGION = "ns", "m", "uid", "r1"


def planned_vm() -> VmRecord:
    request = McisRequest.model_validate(
        {
            "name": MCIS,
            "groups": [{"name": "g", "spec": "aws+r1+small", "image": "aws+r1+ubuntu", "count": 1}],
        }
    )
    return plan_vms(NAMESPACE, request, UID)[0]


def create_vm_input() -> CreateVmInput:
    network = NetworkRefs(
        provider="aws",
        region=REGION,
        vnet="net",
        vnet_csp_id="v",
        subnet_csp_id="s",
        security_groups=["sg"],
        security_group_csp_ids=["sg"],
        ssh_key="k",
        key_csp_name="k",
    )
    return CreateVmInput(namespace=NAMESPACE, mcis=MCIS, uid=UID, vm=planned_vm(), network=network)


class CountingLimiter(RateLimiter):
    def __init__(self) -> None:
        super().__init__()
        self.turns: Counter[str] = Counter()

    async def wait(self, cloud: str) -> None:
        self.turns[cloud] += 1
        await super().wait(cloud)
