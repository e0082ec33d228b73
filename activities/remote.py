"""Remote activities: which VMs a command reaches, and running one command (or putting one file)
on one VM over SSH. The private key is read from the encrypted store here and never leaves this
process; a command is tried once (it may not be safe to run twice)."""

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
from models.remote import RemoteJob, RemoteResult, RemoteTargets, TargetQuery, VmTarget
from models.status import VmStatus
from remote.ssh import run, with_environment

SSH_THREADS = 64
"""SSH sessions one worker runs at once (fabric is blocking: each takes a thread)."""
_ssh_pool = ThreadPoolExecutor(max_workers=SSH_THREADS, thread_name_prefix="ssh")


def upload_ref(token: str) -> str:
    return f"upload/{token}"


class RemoteActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps

    @activity.defn(name="remote_targets")
    async def remote_targets(self, query: TargetQuery) -> RemoteTargets:
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
    async def run_remote(self, job: RemoteJob) -> RemoteResult:
        store, target = self._deps.store, job.target
        key = await store_call(
            partial(store.get_resource, job.namespace, ResourceKind.SSH_KEY, target.ssh_key)
        )
        if key is None or key.secret_ref is None:
            return RemoteResult(
                vm=target.vm, exit_code=None, error=f"SSH key {target.ssh_key!r} has no private key"
            )
        private_key = await store_call(partial(store.get_secret, key.secret_ref))
        upload = None
        if job.file_ref is not None and job.destination is not None:
            content = base64.b64decode(await store_call(partial(store.get_secret, job.file_ref)))
            upload = (content, job.destination)
        command = None if job.command is None else with_environment(job.command, job.environment)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            _ssh_pool,
            partial(run, target, private_key, store, command, job.timeout_s, upload),
        )

    @activity.defn(name="forget_upload")
    async def forget_upload(self, ref: str) -> None:
        await store_call(partial(self._deps.store.delete_secret, ref))
