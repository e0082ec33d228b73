"""`mcis cmd|put|deploy|access`: commands, files and apps on the VMs of an MCIS over SSH (through
the remote workflow), and the addresses and key to reach them yourself; the work is in
`starter.remote_service`, shared with the API."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from temporalio.client import WorkflowFailureError

from models.apps import APPS
from models.failures import failure_message
from models.remote import RemoteResult, RemoteWorkflowInput, TargetQuery
from starter import remote_service
from starter.context import Context
from starter.errors import FAILED, CliError
from starter.output import print_json, print_table, progress
from starter.remote_service import MAX_UPLOAD_BYTES


async def _run(
    ctx: Context, inp: RemoteWorkflowInput, what: str, quiet: bool
) -> list[RemoteResult]:
    handle = await remote_service.start_remote(ctx, inp)
    if not quiet:
        progress(f"{what} on {inp.query.namespace}/{inp.query.mcis}: workflow {handle.id}")
    try:
        return await remote_service.remote_results(ctx, handle, handle.result_run_id or "")
    except WorkflowFailureError as exc:
        raise CliError(failure_message(exc), FAILED) from None


def target_query(ctx: Context, args: argparse.Namespace) -> TargetQuery:
    """The VMs the arguments select; CliError unless the MCIS, the group and the VM exist."""
    return remote_service.target_query(ctx, args.namespace, args.name, args.group, args.vm)


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
    remote_service.check_destination(args.destination)
    query = target_query(ctx, args)
    inp = RemoteWorkflowInput(
        query=query,
        file_ref=remote_service.upload(ctx, source.read_bytes(), repr(args.source)),
        destination=args.destination,
        timeout_s=args.timeout,
        concurrency=args.concurrency,
    )
    results = await _run(ctx, inp, f"putting {source.name} at {args.destination}", args.json)
    show_results(results, args.json)
    return exit_code(results)


async def deploy(ctx: Context, args: argparse.Namespace) -> int:
    results = await run_command(ctx, args, APPS[args.app], f"deploying {args.app}")
    rows = remote_service.deploy_rows(ctx, args.namespace, args.name, results)
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
    namespace = args.namespace
    vms = remote_service.mcis_vms(ctx, namespace, args.name)
    if args.forget_host_keys:
        remote_service.forget_host_keys(ctx, vms)
    key_files: dict[str, str] = {}
    if args.key_file is not None:
        if not args.key_file.strip():
            raise CliError("--key-file needs a path")
        keys = sorted({vm.ssh_key for vm in vms if vm.ssh_key})
        for key_name in keys:
            path = Path(args.key_file if len(keys) == 1 else f"{args.key_file}-{key_name}")
            key = remote_service.vm_private_key(ctx, namespace, key_name)
            key_files[key_name] = str(_write_private_key(key, path))
    rows = [
        row | {"key_file": key_files.get(row["ssh_key"])} for row in remote_service.access_rows(vms)
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


def _write_private_key(private_key: str, path: Path) -> Path:
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
