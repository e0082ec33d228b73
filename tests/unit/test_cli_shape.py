"""The shape of the `mcis` command: every command is declared once in its noun's module
(starter/commands/), takes `--json`, keeps its name, and reads what follows `--` only when it
runs a command on the VMs."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from starter.cli import build_parser, execute, parse

COMMANDS = {
    "access", "add-group", "api", "bench", "cmd", "create", "delete", "list", "load", "put",
    "reboot", "recommend", "reconcile", "refine", "remove-vm", "resume", "scale-in",
    "scale-out", "status", "suspend", "terminate",
    "catalog images", "catalog refresh", "catalog specs",
    "connection add", "connection check", "connection list", "connection remove",
    "deploy nginx",
    "localcloud doctor", "localcloud fault", "localcloud timing", "localcloud vms",
    "ns create", "ns delete", "ns list",
    "policy create", "policy delete", "policy pause", "policy resume", "policy status",
    "resource create", "resource delete", "resource list",
    "stack down", "stack status", "stack up",
}  # fmt: skip


def leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield " ".join(path), parser
    for sub in subs:
        for name, child in sub.choices.items():
            yield from leaves(child, (*path, name))


def test_the_commands_keep_their_names() -> None:
    assert {name for name, _ in leaves(build_parser())} == COMMANDS


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_takes_json_and_has_a_handler(name: str) -> None:
    parser = dict(leaves(build_parser()))[name]
    assert any(a.option_strings == ["--json"] for a in parser._actions)
    assert callable(parser.get_default("handler"))


def stderr_of(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = execute(argv)
    return code, capsys.readouterr().err.splitlines()


def test_what_follows_dashes_is_refused_by_a_command_that_runs_none(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, lines = stderr_of(capsys, ["suspend", "dev", "web", "--", "ls"])
    assert code == 2
    assert lines == ["mcis: unrecognized arguments: ls"]


def test_what_follows_dashes_is_the_remote_command_word_for_word() -> None:
    args = parse(["cmd", "dev", "web", "--group", "g", "--", "ls", "-la", "--json", "--", "x"])
    assert (args.namespace, args.name, args.group, args.json) == ("dev", "web", "g", False)
    assert args.command == ["ls", "-la", "--json", "--", "x"]
    assert parse(["cmd", "dev", "web", "uptime"]).command == ["uptime"]


def test_an_unknown_command_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = stderr_of(capsys, ["ns", "rename", "x"])
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith(
        "mcis: ns: argument {create,list,delete}: invalid choice"
    )
