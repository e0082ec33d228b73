"""Helpers of the reliability tests: a private stack (its own MCIS_HOME, ports and task queue)
driven through the `mcis` CLI, in a subprocess like a user, or in this process (much faster:
for the many runs of the property tests), and the Temporal workflows that ran there."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from settings import load_settings
from starter.cli import execute
from starter.stack import Stack, isolated_env
from tests.e2e.conftest import E2E

TIME_SCALE = 0.02


class InProcessCli(E2E):
    """The stack's CLI run in this process: the same code and exit codes as the `mcis` command
    (starter.cli.execute), a second faster per run. An exception the CLI lets escape is raised."""

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        outcome = run_in_process(self, args)
        if outcome.exception is not None:
            raise outcome.exception
        return subprocess.CompletedProcess(list(args), outcome.code, outcome.stdout, outcome.stderr)


@contextlib.contextmanager
def private_stack(
    home: Path, name: str, prepare: Callable[[InProcessCli], None] | None = None
) -> Iterator[InProcessCli]:
    """A running stack of phantom VMs in `home`, stopped on exit; `prepare` runs first (e.g.
    adds the connections its worker is to read at start)."""
    env = {**os.environ, **isolated_env(home, name, TIME_SCALE)}
    settings = load_settings(env)
    stack = Stack(settings)
    cli = InProcessCli(settings, env, stack)
    try:
        if prepare is not None:
            prepare(cli)
        stack.up()
        yield cli
    finally:
        stack.down()


@dataclass
class Outcome:
    """What one in-process CLI run gave."""

    code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None  # anything the CLI let escape (a stack trace)


def run_in_process(stack: E2E, args: Sequence[str], stdin: str = "") -> Outcome:
    """`mcis ARGS` in this process with the stack's environment (the CLI reads its settings
    from os.environ at each run); stdout and stderr captured, `stdin` its standard input."""
    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    os.environ.update(stack.env)
    try:
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            _stdin(io.StringIO(stdin)),
        ):
            try:
                code = execute(list(args))
            except SystemExit as exc:  # argparse's --help
                code = exc.code if isinstance(exc.code, int) else 0
            except Exception as exc:  # the bug the tests look for
                return Outcome(-1, out.getvalue(), err.getvalue(), exc)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return Outcome(code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _stdin(replacement: io.StringIO) -> Iterator[None]:
    saved, sys.stdin = sys.stdin, replacement
    try:
        yield
    finally:
        sys.stdin = saved


async def temporal_client(stack: E2E) -> Client:
    return await Client.connect(
        stack.settings.temporal_address,
        namespace=stack.settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


def workflow_ids(stack: E2E) -> set[str]:
    """The id of every workflow the stack's Temporal ever started (a run continued as new, as
    an MCIS does after every operation, is the same workflow)."""

    async def ids() -> set[str]:
        client = await temporal_client(stack)
        return {w.id async for w in client.list_workflows()}

    return asyncio.run(ids())


def settled_workflow_ids(stack: E2E, seconds: float = 1.0) -> set[str]:
    """The workflows once visibility (updated asynchronously) has caught up: listed until two
    listings `seconds` apart agree."""
    before = workflow_ids(stack)
    for _ in range(30):
        time.sleep(seconds)
        after = workflow_ids(stack)
        if after == before:
            return after
        before = after
    raise AssertionError("workflows kept starting: the listing never settled")
