"""`mcis cmd|put|deploy|access`: commands, files and apps on the VMs of an MCIS over SSH (through
the remote workflow), and the addresses and key to reach them yourself."""

from __future__ import annotations

import argparse
import base64
import os
import uuid
from pathlib import Path

from temporalio.client import WorkflowFailureError

from activities.remote import upload_ref
from models.naming import shown, vm_order
from models.records import ResourceKind
from models.remote import RemoteResult, RemoteRun, RemoteWorkflowInput, TargetQuery, with_output
from remote.apps import APPS
from starter.context import Context
from starter.errors import FAILED, CliError, check_input_size
from starter.output import print_json, print_table, progress
from starter.views import checked_name
from store.remote_outputs import RemoteOutputStore
from workflows.failures import failure_message
from workflows.remote import RemoteWorkflow

MAX_UPLOAD_BYTES = 16 * 1024 * 1024


def target_query(ctx: Context, args: argparse.Namespace) -> TargetQuery:
    """The VMs the arguments select; CliError unless the MCIS, the group and the VM exist."""
    namespace = checked_name(args.namespace, "namespace")
    name = checked_name(args.name, "MCIS name")
    if ctx.store.get_mcis(namespace, name) is None:
        raise CliError(f"MCIS {name!r} not found in namespace {namespace!r}")
    vms = ctx.store.list_vms(namespace, name)
    if args.group is not None and not any(vm.group == args.group for vm in vms):
        raise CliError(f"group {shown(args.group)} not found in MCIS {name!r}")
    if args.vm is not None and not any(vm.name == args.vm for vm in vms):
        raise CliError(f"VM {shown(args.vm)} not found in MCIS {name!r}")
    return TargetQuery(namespace=namespace, mcis=name, group=args.group, vm=args.vm)


async def _run(
    ctx: Context, inp: RemoteWorkflowInput, what: str, quiet: bool
) -> list[RemoteResult]:
    client = await ctx.client()
    where = f"{inp.query.namespace}/{inp.query.mcis}"
    await check_input_size(client.data_converter, inp, f"the input of the remote run on {where}")
    workflow_id = f"remote/{inp.query.namespace}/{inp.query.mcis}/{uuid.uuid4().hex[:12]}"
    if not quiet:
        progress(f"{what} on {inp.query.namespace}/{inp.query.mcis}: workflow {workflow_id}")
    handle = await client.start_workflow(
        RemoteWorkflow.run, inp, id=workflow_id, task_queue=ctx.settings.task_queue
    )
    try:
        results = await handle.result()
    except WorkflowFailureError as exc:
        raise CliError(failure_message(exc), FAILED) from None
    run = RemoteRun(workflow_id=workflow_id, run_id=handle.result_run_id or "")
    outputs = RemoteOutputStore(ctx.settings.database_url)
    try:
        return with_output(results, outputs.read(run))
    finally:
        outputs.close()


def exit_code(results: list[RemoteResult]) -> int:
    return 0 if results and all(r.exit_code == 0 for r in results) else FAILED


def show_results(results: list[RemoteResult], as_json: bool) -> None:
    if as_json:
        print_json(results)
        return
    for r in results:
        status = f"exit {r.exit_code}" if r.exit_code is not None else f"error: {r.error}"
        print(f"== {r.vm} ({status}, {r.duration_s:.2f}s)")
        if r.stdout:
            print(r.stdout.rstrip("\n"))
        if r.stderr:
            print("[stderr] " + r.stderr.rstrip("\n").replace("\n", "\n[stderr] "))


async def run_command(
    ctx: Context, args: argparse.Namespace, command: str, what: str
) -> list[RemoteResult]:
    """Run `command` on the VMs the arguments select (--group, --vm) through the workflow."""
    inp = RemoteWorkflowInput(
        query=target_query(ctx, args),
        command=command,
        timeout_s=args.timeout,
        concurrency=args.concurrency,
    )
    return await _run(ctx, inp, what, args.json)


async def cmd(ctx: Context, args: argparse.Namespace) -> int:
    words = args.command
    if not words:
        raise CliError("give the command after --, e.g. mcis cmd dev web -- hostname")
    command = " ".join(words)
    results = await run_command(ctx, args, command, f"running {command!r}")
    show_results(results, args.json)
    return exit_code(results)


async def put(ctx: Context, args: argparse.Namespace) -> int:
    source = Path(args.source)
    if not source.is_file():
        raise CliError(f"{args.source!r} is not a file")
    if source.stat().st_size > MAX_UPLOAD_BYTES:
        raise CliError(f"{args.source!r} is larger than {MAX_UPLOAD_BYTES // 2**20} MiB")
    if not args.destination.startswith("/"):
        raise CliError(f"destination {args.destination!r} must be an absolute path on the VMs")
    query = target_query(ctx, args)
    ref = upload_ref(uuid.uuid4().hex)
    ctx.store.put_secret(ref, base64.b64encode(source.read_bytes()).decode())
    inp = RemoteWorkflowInput(
        query=query,
        file_ref=ref,
        destination=args.destination,
        timeout_s=args.timeout,
        concurrency=args.concurrency,
    )
    results = await _run(ctx, inp, f"putting {source.name} at {args.destination}", args.json)
    show_results(results, args.json)
    return exit_code(results)


async def deploy(ctx: Context, args: argparse.Namespace) -> int:
    results = await run_command(ctx, args, APPS[args.app], f"deploying {args.app}")
    addresses = {vm.name: vm.public_ip for vm in ctx.store.list_vms(args.namespace, args.name)}
    rows = [
        {
            "vm": r.vm,
            "ready": r.exit_code == 0,
            "url": f"http://{addresses.get(r.vm)}",
            "error": None if r.exit_code == 0 else (r.error or r.stderr.strip()[-300:]),
        }
        for r in results
    ]
    if args.json:
        print_json(rows)
    else:
        for row in rows:
            if row["ready"]:
                print(f"[{row['vm']}] WebServer is ready. Access {row['url']}")
            else:
                print(f"[{row['vm']}] failed: {row['error']}")
    return exit_code(results)


async def access(ctx: Context, args: argparse.Namespace) -> int:
    namespace = checked_name(args.namespace, "namespace")
    if ctx.store.get_mcis(namespace, checked_name(args.name, "MCIS name")) is None:
        raise CliError(f"MCIS {args.name!r} not found in namespace {namespace!r}")
    vms = sorted(ctx.store.list_vms(namespace, args.name), key=lambda vm: vm_order(vm.name))
    if args.forget_host_keys:
        for vm in vms:
            ctx.store.forget_host_key(f"{vm.provider}/{vm.csp_id}")
    key_files: dict[str, str] = {}
    if args.key_file is not None:
        if not args.key_file.strip():
            raise CliError("--key-file needs a path")
        keys = sorted({vm.ssh_key for vm in vms if vm.ssh_key})
        for key_name in keys:
            path = Path(args.key_file if len(keys) == 1 else f"{args.key_file}-{key_name}")
            key_files[key_name] = str(_write_private_key(ctx, namespace, key_name, path))
    rows = [
        {
            "vm": vm.name,
            "user": "root",
            "ip": vm.public_ip,
            "port": 22,
            "status": vm.status.value,
            "ssh_key": vm.ssh_key,
            "key_file": key_files.get(vm.ssh_key),
        }
        for vm in vms
    ]
    if args.json:
        print_json(rows)
        return 0
    print_table(
        ["VM", "USER", "IP", "PORT", "STATUS", "SSH_KEY"],
        [(r["vm"], r["user"], r["ip"] or "-", r["port"], r["status"], r["ssh_key"]) for r in rows],
    )
    for key_name, key_file in key_files.items():
        print(
            f"private key {key_name} written to {key_file} (mode 0600): ssh -i {key_file} root@IP"
        )
    return 0


def _write_private_key(ctx: Context, namespace: str, key_name: str, path: Path) -> Path:
    resource = ctx.store.get_resource(namespace, ResourceKind.SSH_KEY, key_name)
    if resource is None or resource.secret_ref is None:
        raise CliError(f"SSH key {key_name!r} has no private key in namespace {namespace!r}")
    private_key = ctx.store.get_secret(resource.secret_ref)
    try:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise CliError(
                f"cannot write the key to {str(path)!r}: {str(path.parent)!r} is not a directory"
            ) from None
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(private_key)
        os.chmod(path, 0o600)
    except OSError as exc:
        raise CliError(f"cannot write the key to {str(path)!r}: {exc.strerror}") from None
    return path
