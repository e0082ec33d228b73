"""The remote activity: which VMs a command reaches, and running it (or putting one file) on each
of them over SSH. The private key is read from the encrypted store here and never leaves this
process; a command is tried once (it may not be safe to run twice). What the VMs print is stored
under the workflow run (store/remote_outputs.py); the activity returns a summary per VM."""

from __future__ import annotations

import asyncio
import base64
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.cloud_calls import store_call
from activities.deps import ActivityDeps
from models.records import ResourceKind
from models.remote import (
    REMOTE_BATCH_SIZE,
    BatchOutcome,
    RemoteBatch,
    RemoteResult,
    RemoteRun,
    RemoteTargets,
    TargetQuery,
    VmOutput,
    VmTarget,
)
from models.status import VmStatus
from remote.ssh import run, with_environment
from store.remote_outputs import RemoteOutputStore

SSH_THREADS = 64
"""SSH sessions one worker runs at once (fabric is blocking: each takes a thread)."""
_ssh_pool = ThreadPoolExecutor(max_workers=SSH_THREADS, thread_name_prefix="ssh")


class BatchHostKeys:
    """The recorded host keys of a batch, read in one query; keys seen for the first time are
    kept to be recorded after the batch (SSH threads never touch the database)."""

    def __init__(self, known: dict[str, str]) -> None:
        self._known = known
        self.first_seen: dict[str, str] = {}

    def get_host_key(self, ref: str) -> str | None:
        return self._known.get(ref)

    def put_host_key(self, ref: str, key: str) -> None:
        self.first_seen[ref] = key


def upload_ref(token: str) -> str:
    return f"upload/{token}"


class RemoteActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps
        self._outputs = RemoteOutputStore(deps.store.database_url)

    async def targets(self, query: TargetQuery) -> RemoteTargets:
        """The Running VMs of the scope, with their address and SSH key resource; others are
        reported as skipped."""
        store = self._deps.store
        vms = await store_call(partial(store.list_vms, query.namespace, query.mcis))
        scoped = [vm for vm in vms if query.selects(vm.name, vm.group)]
        if not scoped:
            what = (
                f"VM {query.vm!r}"
                if query.vm
                else f"group {query.group!r}"
                if query.group
                else "VMs"
            )
            raise ApplicationError(
                f"no {what} in MCIS {query.mcis!r} of namespace {query.namespace!r}",
                type="NotFound",
                non_retryable=True,
            )
        targets = RemoteTargets()
        for vm in scoped:
            if vm.status is VmStatus.RUNNING and vm.public_ip and vm.csp_id:
                targets.targets.append(
                    VmTarget(
                        vm=vm.name,
                        group=vm.group,
                        provider=vm.provider,
                        region=vm.region,
                        csp_id=vm.csp_id,
                        host=vm.public_ip,
                        ssh_key=vm.ssh_key,
                    )
                )
            else:
                targets.skipped.append(
                    RemoteResult(
                        vm=vm.name, exit_code=None, error=f"not Running ({vm.status.value})"
                    )
                )
        return targets

    @activity.defn(name="run_remote")
    async def run_remote(self, batch: RemoteBatch) -> BatchOutcome:
        """One SSH session per VM of the batch, concurrently in the SSH thread pool (one
        activity for many VMs: a Temporal round trip per VM would cost more than the SSH);
        with a query, its VMs are found first and those beyond one batch handed back. The
        output is stored under the workflow's run; the results are summaries."""
        found = RemoteTargets(targets=batch.targets)
        if batch.query is not None:
            found = await self.targets(batch.query)
        now, rest = found.targets[:REMOTE_BATCH_SIZE], found.targets[REMOTE_BATCH_SIZE:]
        results = await self._run(batch, now)
        info = activity.info()
        run = RemoteRun.model_validate(
            {"workflow_id": info.workflow_id, "run_id": info.workflow_run_id}
        )
        outputs = [
            VmOutput(vm=r.vm, stdout=r.stdout, stderr=r.stderr)
            for r in results
            if r.stdout or r.stderr
        ]
        await store_call(partial(self._outputs.save, run, outputs))
        summaries = [r.summary() for r in results]
        return BatchOutcome(results=summaries, skipped=found.skipped, rest=rest)

    async def _run(self, batch: RemoteBatch, targets: list[VmTarget]) -> list[RemoteResult]:
        store = self._deps.store
        keys: dict[str, str | None] = {}
        for name in sorted({t.ssh_key for t in targets}):
            key = await store_call(
                partial(store.get_resource, batch.namespace, ResourceKind.SSH_KEY, name)
            )
            secret = None if key is None else key.secret_ref
            keys[name] = (
                None if secret is None else await store_call(partial(store.get_secret, secret))
            )
        upload = None
        if batch.file_ref is not None and batch.destination is not None:
            content = base64.b64decode(await store_call(partial(store.get_secret, batch.file_ref)))
            upload = (content, batch.destination)
        host_keys = BatchHostKeys(
            await store_call(partial(store.get_host_keys, [t.host_key_ref for t in targets]))
        )
        loop = asyncio.get_running_loop()
        limit = asyncio.Semaphore(batch.concurrency)

        async def one(target: VmTarget) -> RemoteResult:
            private_key = keys[target.ssh_key]
            if private_key is None:
                return RemoteResult(
                    vm=target.vm,
                    exit_code=None,
                    error=f"SSH key {target.ssh_key!r} has no private key",
                )
            command = None
            if batch.command is not None:
                command = with_environment(batch.command, batch.environment(target))
            call = partial(
                run,
                target,
                private_key,
                host_keys,
                command,
                batch.timeout_s,
                upload,
                self._deps.ssh_sessions,
            )
            async with limit:
                return await loop.run_in_executor(_ssh_pool, call)

        results = list(await asyncio.gather(*(one(t) for t in targets)))
        for ref, host_key in host_keys.first_seen.items():
            await store_call(partial(store.put_host_key, ref, host_key))
        return results

    @activity.defn(name="forget_upload")
    async def forget_upload(self, ref: str) -> None:
        await store_call(partial(self._deps.store.delete_secret, ref))
