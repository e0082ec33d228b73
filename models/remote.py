"""Contracts of remote operations over SSH: which VMs, what ran, what it gave back. No key
material: a target names its SSH key resource; activities read the key from the store. Nor
command output: what a VM printed is kept in the store under its run (`RemoteRun`), and the
activities and the workflow hand back a small summary per VM."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field

from models.naming import Name
from models.workflow_input import WorkflowInput

MAX_OUTPUT_CHARS = 16_000
"""Each stream kept per VM in the store (the rest is counted, cut and marked)."""


class VmTarget(BaseModel):
    vm: str
    group: str
    provider: str
    region: str
    csp_id: str
    host: str
    port: int = 22
    user: str = "root"
    ssh_key: str  # resource name of the SSH key in the namespace

    @property
    def host_key_ref(self) -> str:
        return f"{self.provider}/{self.csp_id}"


class RemoteResult(BaseModel):
    """What one command gave on one VM (`mcis cmd --json` rows). The remote activity and
    workflow return it as a summary: `stdout` and `stderr` empty, the kept output in the store
    (`with_output` puts it back); results of runs from before that carry their output here."""

    vm: str
    exit_code: int | None  # None: it did not run to an end (see error)
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    error: str | None = None  # connection, host key or timeout problems
    stdout_bytes: int = 0  # what each stream gave, kept or not
    stderr_bytes: int = 0

    def summary(self) -> RemoteResult:
        """This result without its output (the bytes counted stay)."""
        return self.model_copy(update={"stdout": "", "stderr": ""})


class RemoteRun(BaseModel):
    """One run of the remote workflow: the key of its VMs' output in the store."""

    workflow_id: str
    run_id: str


class VmOutput(BaseModel):
    """The output kept of one VM's command."""

    vm: str
    stdout: str = ""
    stderr: str = ""


def with_output(results: list[RemoteResult], outputs: Mapping[str, VmOutput]) -> list[RemoteResult]:
    """`results` with their VM's kept output from `outputs` (a VM without any keeps its own)."""
    return [
        r
        if r.vm not in outputs
        else r.model_copy(update=outputs[r.vm].model_dump(include={"stdout", "stderr"}))
        for r in results
    ]


class TargetQuery(BaseModel):
    namespace: Name
    mcis: Name
    group: Name | None = None
    vm: Name | None = None
    vms: list[str] | None = None  # several named VMs (e.g. the ones a scale-out added)

    def selects(self, name: str, group: str) -> bool:
        return (
            (self.group is None or group == self.group)
            and (self.vm is None or name == self.vm)
            and (self.vms is None or name in self.vms)
        )


REMOTE_BATCH_SIZE = 50
"""VMs one remote activity reaches (each in its own SSH session, concurrently)."""


class RemoteTargets(BaseModel):
    targets: list[VmTarget] = Field(default_factory=list)
    skipped: list[RemoteResult] = Field(default_factory=list)  # VMs not Running


class RemoteBatch(BaseModel):
    """Run `command` (and/or put the file stored under `file_ref` at `destination`) on each of
    a few VMs at once: the `targets`, or with `query` the first REMOTE_BATCH_SIZE Running VMs
    of its scope (found by the same activity: one round trip less for every command)."""

    namespace: str
    mcis: str
    query: TargetQuery | None = None
    targets: list[VmTarget] = Field(default_factory=list)
    command: str | None = None
    file_ref: str | None = None
    destination: str | None = None
    timeout_s: float = Field(default=120.0, gt=0)
    concurrency: int = Field(default=50, ge=1)

    def environment(self, target: VmTarget) -> dict[str, str]:
        """What the command sees of its VM (the reference's placeholders, as variables)."""
        return {
            "MCIS_NAMESPACE": self.namespace,
            "MCIS_NAME": self.mcis,
            "MCIS_VM": target.vm,
            "MCIS_GROUP": target.group,
            "MCIS_PROVIDER": target.provider,
            "MCIS_REGION": target.region,
            "MCIS_IP": target.host,
        }


class BatchOutcome(BaseModel):
    results: list[RemoteResult]
    skipped: list[RemoteResult] = Field(default_factory=list)  # with `query`: VMs not Running
    rest: list[VmTarget] = Field(default_factory=list)  # with `query`: for the next batches


MAX_TIMEOUT_S = 86_400.0
MAX_CONCURRENCY = 1000


class RemoteWorkflowInput(WorkflowInput):
    query: TargetQuery
    command: str | None = None
    file_ref: str | None = None
    destination: str | None = None
    timeout_s: float = Field(default=120.0, gt=0, le=MAX_TIMEOUT_S)  # per VM
    concurrency: int = Field(default=50, ge=1, le=MAX_CONCURRENCY)  # VMs at once


def clip(text: str, dropped_bytes: int = 0) -> str:
    """`text` cut to MAX_OUTPUT_CHARS, with a note of how much more there was (`dropped_bytes`:
    output never kept, counted as one character a byte)."""
    more = max(len(text) - MAX_OUTPUT_CHARS, 0) + dropped_bytes
    if not more:
        return text
    return text[:MAX_OUTPUT_CHARS] + f"\n[... {more} more characters cut]"
