"""The OpenStack driver's reading of Nova's servers: one being deleted is gone for mcis."""

from __future__ import annotations

from libcloud.compute.base import Node
from libcloud.compute.types import NodeState

from drivers.openstack import OpenStackDriver


def _server(task_state: str | None) -> Node:
    return Node(
        id="s-1",
        name="web-1",
        state=NodeState.RUNNING,
        public_ips=[],
        private_ips=[],
        driver=None,
        extra={"task_state": task_state, "vm_state": "active"},
    )


def test_a_server_being_deleted_is_not_live() -> None:
    driver = OpenStackDriver.__new__(OpenStackDriver)  # _live reads the node alone
    assert driver._live(_server(None))
    assert not driver._live(_server("deleting"))
