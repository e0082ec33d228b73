"""The MCIR workflow: make sure one vNet, security group or SSH key exists at its cloud and in
the store, or delete one (id `mcir/NS/KIND/NAME`, so two requests for one resource never race)."""

from __future__ import annotations

from typing import Self

from pydantic import model_validator
from temporalio import workflow

from models.operations import (
    EnsureSecurityGroupInput,
    EnsureSshKeyInput,
    EnsureVNetInput,
    ResourceRef,
)
from models.records import ResourceKind, ResourceRecord
from models.workflow_input import WorkflowInput
from workflows.options import CLOUD, run_activity


class ResourceWorkflowInput(WorkflowInput):
    """Exactly one of the fields: what to ensure, or what to delete."""

    vnet: EnsureVNetInput | None = None
    security_group: EnsureSecurityGroupInput | None = None
    ssh_key: EnsureSshKeyInput | None = None
    delete: ResourceRef | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [f for f in (self.vnet, self.security_group, self.ssh_key, self.delete) if f]
        if len(given) != 1:
            raise ValueError("give exactly one of vnet, security_group, ssh_key, delete")
        return self

    @property
    def ref(self) -> ResourceRef:
        if self.delete is not None:
            return self.delete
        if self.vnet is not None:
            return ResourceRef(
                namespace=self.vnet.namespace, kind=ResourceKind.VNET, name=self.vnet.name
            )
        if self.security_group is not None:
            sg = self.security_group
            return ResourceRef(
                namespace=sg.namespace, kind=ResourceKind.SECURITY_GROUP, name=sg.name
            )
        assert self.ssh_key is not None
        key = self.ssh_key
        return ResourceRef(namespace=key.namespace, kind=ResourceKind.SSH_KEY, name=key.name)


def resource_workflow_id(ref: ResourceRef) -> str:
    return f"mcir/{ref.namespace}/{ref.kind.value}/{ref.name}"


@workflow.defn(name="ResourceWorkflow")
class ResourceWorkflow:
    @workflow.run
    async def run(self, inp: ResourceWorkflowInput) -> ResourceRecord | None:
        if inp.vnet is not None:
            return await run_activity("ensure_vnet", inp.vnet, ResourceRecord, CLOUD)
        if inp.security_group is not None:
            return await run_activity(
                "ensure_security_group", inp.security_group, ResourceRecord, CLOUD
            )
        if inp.ssh_key is not None:
            return await run_activity("ensure_ssh_key", inp.ssh_key, ResourceRecord, CLOUD)
        await run_activity("delete_resource", inp.ref, bool, CLOUD)
        return None
