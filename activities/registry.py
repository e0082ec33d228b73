"""The full list of mcis activities bound to their dependencies, for a worker to register."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities.autocontrol import AutoControlActivities
from activities.benchmark import BenchmarkActivities
from activities.deps import ActivityDeps
from activities.records import RecordActivities
from activities.remote import RemoteActivities
from activities.resources import ResourceActivities
from activities.sweep import SweepActivities
from activities.vm_batches import VmBatchActivities
from activities.vms import VmActivities


def all_activities(deps: ActivityDeps) -> list[Callable[..., Any]]:
    resources, vms, records = ResourceActivities(deps), VmActivities(deps), RecordActivities(deps)
    remote, autocontrol = RemoteActivities(deps), AutoControlActivities(deps)
    sweep, batches = SweepActivities(deps), VmBatchActivities(deps)
    benchmark = BenchmarkActivities(deps)
    return [
        resources.ensure_vnet,
        resources.ensure_security_group,
        resources.ensure_ssh_key,
        resources.static_network,
        resources.ensure_shared_network,
        resources.delete_resource,
        resources.release_shared_network,
        vms.create_vm,
        vms.vm_action,
        vms.observe_vms,
        vms.reconcile_vms,
        batches.create_vm_batch,
        batches.vm_action_batch,
        records.register_mcis,
        records.save_vms,
        records.record_planned_vms,
        records.load_vm_page,
        records.set_mcis_phase,
        records.forget_vms,
        records.forget_mcis,
        remote.run_remote,
        remote.forget_upload,
        autocontrol.collect_metrics,
        autocontrol.run_mcis_operation,
        sweep.scan_for_orphans,
        sweep.terminate_orphan,
        benchmark.benchmark_targets,
        benchmark.benchmark_tools,
        benchmark.benchmark_rows,
        benchmark.record_benchmark,
    ]
