"""Bad input, in numbers: hypothesis-generated arguments to every `mcis` command (the leaves of
the CLI's argparse tree, so a new command is covered by itself) and invalid dicts for every
workflow input model.

Each command run gets at least one bad argument (an invalid or unknown name, a malformed or
hostile YAML/JSON file, a huge, negative or non-finite number, an unknown option or choice,
a missing argument), except read-only commands, which also get odd-but-valid ones. Every run
must end with no stack trace, and, when it fails, exactly one line on stderr starting `mcis: `,
exit code 2 for bad input; no workflow may start, and nothing may change in the store, at the
cloud or in the credentials file. Runs are in-process (starter.cli.execute, what the `mcis`
script runs) against one private stack, a few in a subprocess."""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from temporalio.client import Client

from models.mcis import McisRequest
from models.naming import check_name, is_valid_name
from models.operations import McisWorkflowInput, OperationRequest
from models.policy import Policy, PolicyWorkflowInput
from models.remote import RemoteWorkflowInput
from models.sweep import SweepInput
from starter.cli import build_parser
from starter.errors import validation_message
from store.repository import Store
from tests.e2e.conftest import E2E
from tests.reliability.private_cli import (
    InProcessCli,
    Outcome,
    private_stack,
    run_in_process,
    settled_workflow_ids,
)
from workflows.mcir import ResourceWorkflowInput

NS, MCIS, GROUP, VM = "rel", "web", "g1", "g1-1"
EXAMPLES = int(os.environ.get("MCIS_BAD_INPUT_EXAMPLES", "30"))
"""Runs per command (about 50 commands); raise it for a longer hunt."""

# --- the commands -------------------------------------------------------------------------


def leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, sub in subs[0].choices.items():
        yield from leaves(sub, (*path, name))


COMMANDS: dict[tuple[str, ...], argparse.ArgumentParser] = dict(leaves(build_parser()))

READ_ONLY = {
    ("stack", "status"),
    ("catalog", "specs"),
    ("catalog", "images"),
    ("recommend",),
    ("ns", "list"),
    ("resource", "list"),
    ("list",),
    ("status",),
    ("policy", "status"),
    ("localcloud", "vms"),
    ("connection", "list"),
}
"""Commands that start no workflow and change nothing: odd-but-valid arguments are fine there.
Every other command (and any command added later) always gets at least one bad argument."""

CHECKED: dict[tuple[str, ...], set[str]] = {
    ("ns", "create"): {"name"},
    ("connection", "add"): {"name"},
    ("create",): {"namespace", "group", "file"},
    ("policy", "create"): {"namespace", "name", "file"},
    ("put",): {"namespace", "name", "source"},
    ("recommend",): {"vcpus", "memory", "price", "priority", "near", "latency_to", "provider"},
    ("catalog", "specs"): {"vcpus", "memory", "price", "provider"},
    ("catalog", "images"): {"provider", "region"},
    ("catalog", "refresh"): {"rtt_file"},
    ("localcloud", "vms"): {"tag"},
    ("localcloud", "fault"): {"api_error_rate", "boot_failure_rate", "throttle_rate", "quota"},
    ("reconcile",): {"namespace"},
    ("access",): {"namespace", "name", "key_file"},
}
"""Per command, the arguments a bad value of which is always refused (whatever the others
hold). Default: the positionals with bad values below (namespace, MCIS name, ...)."""

# --- values ---------------------------------------------------------------------------------

INVALID_NAMES = st.sampled_from(
    [
        "",
        "Bad_Name",
        "UPPER",
        "trail-",
        "9lives",
        "a" * 41,
        "x y",
        "../etc",
        "a/b",
        "名前",
        "$(reboot)",
        "web;rm -rf /",
        "%s%n",
        "a" * 5000,
    ]
) | st.text(st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=60).filter(
    lambda s: not is_valid_name(s) and not s.startswith("-")
)
UNKNOWN_NAMES = st.from_regex(r"\Azz[a-z0-9]{0,8}\Z")
BAD_OR_UNKNOWN = INVALID_NAMES | UNKNOWN_NAMES
HUGE = st.sampled_from(
    [
        "0",
        "-1",
        "10001",
        "99999999999999999999999999",
        str(2**63),
        str(10**400),
        "1e309",
        "-1e309",
        "nan",
        "inf",
        "-inf",
        "1e-320",
    ]
)
NOT_A_NUMBER = st.sampled_from(["", "abc", "1,5", "0x10", "1.5.2", " "])
BAD_NUMBERS = HUGE | NOT_A_NUMBER
BAD_RANGES = st.sampled_from(
    ["5..2", "abc", "..", "1..2..3", "nan..1", "1..inf", "-inf..", "1e999", "--"]
) | st.text(max_size=12).filter(lambda s: not s.startswith("-"))
BAD_PRIORITIES = st.sampled_from(
    ["cost=abc", "bogus=1", "cost=-1", "cost=nan", "cost=inf", "cost=0", "cost=1,cost=2", ",", "="]
)
BAD_POINTS = st.sampled_from(["abc", "91,0", "0,181", "nan,nan", "inf,0", "1", "1,2,3", ","])


def document(draw: st.DrawFn, kind: str) -> tuple[str, bytes]:
    """(suffix, content) of a malformed or hostile request, policy or RTT document."""
    if kind == "rtt":
        return draw(st.sampled_from(BAD_RTT + HOSTILE))
    valid, model = VALID_DOCUMENTS[kind], DOCUMENT_MODELS[kind]
    junk = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=20,
    )
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return ".yaml", draw(st.binary(max_size=200))
    if choice == 1:
        return draw(st.sampled_from([".yaml", ".json"])), draw(st.text(max_size=200)).encode()
    if choice == 2:
        return ".json", json.dumps(draw(junk)).encode()
    if choice in (3, 4):  # the valid document with one field replaced by junk or an odd value
        data = json.loads(json.dumps(valid))
        target = data
        key = draw(st.sampled_from(list(target)))
        if isinstance(target[key], list) and isinstance(target[key][0], dict):
            target = target[key][0]
            key = draw(st.sampled_from(list(target)))
        odd = [10**30, -1, 0, math.nan, math.inf, "x" * 100_000, "\ud800", [], {}, None]
        target[key] = draw(junk | st.sampled_from(odd))
        if _valid(model, data):
            data["zz_unknown"] = True  # never a valid document (one would create something)
        suffix = draw(st.sampled_from([".yaml", ".json"]))
        text = json.dumps(data) if suffix == ".json" else yaml.safe_dump(data)
        return suffix, text.encode(errors="surrogatepass")
    if choice == 5:  # an unknown field
        data = {**valid, draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in valid)): 1}
        return ".yaml", yaml.safe_dump(data).encode()
    return draw(st.sampled_from(HOSTILE))


def _valid(model: type[BaseModel], data: Any) -> bool:
    try:
        model.model_validate(data)
    except ValidationError:
        return False
    return True


HOSTILE = [
    (".json", b"[" * 100_000 + b"]" * 100_000),  # deeper than any parser's recursion
    (".yaml", b"a: " + b"[" * 50_000),
    (".yaml", b"a: &a [*a]"),
    (".json", b'{"a": ' + b"1" * 5000 + b"}"),
    (".yaml", b"x" * 1_100_000),  # over the size limit
    (".yaml", b"--- {}\n--- {}\n"),
    (".yaml", b"!!python/object/apply:os.system ['true']"),
    (".json", b'{"name": "\\ud800"}'),
]
BAD_RTT = [
    (".yaml", b"- aws/us-east-1\n"),
    (".yaml", b"aws/us-east-1: 5\n"),
    (".yaml", b"aws/us-east-1: {gcp/us-central1: -1}\n"),
    (".yaml", b"aws/us-east-1: {gcp/us-central1: .nan}\n"),
    (".yaml", b"aws/us-east-1: {gcp/us-central1: .inf}\n"),
    (".yaml", b"aws/us-east-1: {gcp/us-central1: fast}\n"),
    (".yaml", b"aws/us-east-1: {gcp/us-central1: true}\n"),
    (".yaml", b"nokey: {alsono: 1}\n"),
]


ALIAS_BOMB = b"\n".join(
    [b'a: &a ["x","x","x","x","x","x","x","x","x"]']
    + [
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]".encode()
        for i in range(8)
    ]
    + [b"name: *i"]
)
"""Nine levels of nine aliases: 387 million strings once expanded."""
HOSTILE.append((".yaml", ALIAS_BOMB))

VALID_DOCUMENTS: dict[str, dict[str, Any]] = {
    "request": {"name": "docmcis", "groups": [{"name": "g", "spec": "", "image": "", "count": 1}]},
    "policy": {
        "rules": [
            {
                "condition": {"metric": "cpu", "operator": ">=", "operand": 80},
                "action": {"kind": "ScaleOut", "count": 1, "group": GROUP},
            }
        ]
    },
}


DOCUMENT_MODELS: dict[str, type[BaseModel]] = {"request": McisRequest, "policy": Policy}


@dataclass(repr=False)
class World:
    stack: InProcessCli
    files: Path
    spec: str
    image: str
    starts: list[str] = field(default_factory=list)

    def write(self, suffix: str, content: bytes) -> str:
        handle, path = tempfile.mkstemp(suffix=suffix, dir=self.files)
        with open(handle, "wb") as out:
            out.write(content)
        return path


Strategy = Callable[[World], st.SearchStrategy[Any]]


def document_file(kind: str) -> Strategy:
    @st.composite
    def files(draw: st.DrawFn, world: World) -> str:
        if draw(st.integers(0, 9)) == 0:
            return draw(st.sampled_from([str(world.files), "/nonexistent/x.yaml", "/dev/null"]))
        return world.write(*document(draw, kind))

    return lambda world: files(world)


def group_spec(world: World) -> st.SearchStrategy[str]:
    """A bad `--group SPEC,IMAGE,COUNT`."""
    spec, image = world.spec, world.image
    return st.sampled_from(
        [
            f"{spec},{image},0",
            f"{spec},{image},-1",
            f"{spec},{image},10001",
            f"{spec},{image},{10**30}",
            f"{spec},{image},nan",
            f"{spec},{image}",
            f"{spec},{image},1,1",
            f"aws+us-east-1+nope,{image},1",
            f"{spec},aws+us-east-1+nope,1",
            f"{spec},aws+eu-west-1+x,1",
            "nocloud+r+s,nocloud+r+i,1",
            "a+b,c+d,1",
            ",,",
            "",
        ]
    ) | st.text(max_size=40).filter(lambda s: not s.startswith("-"))


def fixed(*values: Any) -> Strategy:
    return lambda world: st.sampled_from(values)


def strategy(values: st.SearchStrategy[Any]) -> Strategy:
    return lambda world: values


BAD: dict[str, Strategy] = {
    "namespace": strategy(BAD_OR_UNKNOWN),
    "name": strategy(BAD_OR_UNKNOWN),
    "vm": strategy(BAD_OR_UNKNOWN),
    "group": strategy(BAD_OR_UNKNOWN),
    "group_name": strategy(INVALID_NAMES),
    "file": document_file("request"),
    "source": fixed("/nonexistent/file", "/tmp", ""),
    "destination": fixed("relative/path", "", "~/x"),
    "key_file": fixed("/proc/version/key", "/etc/hostname/key", "/tmp", "/dev/full", " "),
    "rtt_file": document_file("rtt"),
    "vcpus": strategy(BAD_RANGES),
    "memory": strategy(BAD_RANGES),
    "price": strategy(BAD_RANGES),
    "priority": strategy(BAD_PRIORITIES),
    "near": strategy(BAD_POINTS),
    "latency_to": fixed("nope/nowhere", "aws", "aws/", "/"),
    "provider": fixed("nocloud", "AWS"),
    "region": fixed("nowhere"),
    "tag": fixed("noequals", "=v", ""),
    "api_error_rate": fixed("-0.1", "1.5", "nan", "inf", "abc"),
    "boot_failure_rate": fixed("-0.1", "1.5", "nan", "inf", "abc"),
    "throttle_rate": fixed("-0.1", "1.5", "nan", "inf", "abc"),
    "quota": fixed("-1", str(10**7), str(10**400), "nan", "1.5"),
    "command": fixed([]),
}
"""Bad values by argument (dest); a number-typed argument also gets BAD_NUMBERS."""

BAD_BY_COMMAND: dict[tuple[tuple[str, ...], str], Strategy] = {
    (("create",), "group"): group_spec,
    (("add-group",), "group"): group_spec,
    (("policy", "create"), "file"): document_file("policy"),
    (("ns", "create"), "name"): strategy(INVALID_NAMES | st.just(NS)),
    (("connection", "add"), "name"): strategy(INVALID_NAMES | st.sampled_from(["aws", "gcp"])),
    (("reconcile",), "namespace"): strategy(INVALID_NAMES),
    (("bench",), "namespace"): strategy(INVALID_NAMES),  # --show: stored results of any MCIS
    (("bench",), "name"): strategy(INVALID_NAMES),
    (("resource", "create"), "name"): strategy(INVALID_NAMES),  # a new name is a valid one
}

GOOD: dict[str, Strategy] = {
    "namespace": fixed(NS),
    "name": fixed(MCIS),
    "vm": fixed(VM),
    "group": fixed(GROUP),
    "group_name": fixed("g9"),
    "kind": fixed("ssh-key", "vnet"),
    "provider": fixed("aws"),
    "region": fixed("us-east-1"),
    "count": fixed("1", "2"),
    "cpu": fixed("50"),
    "duration": fixed("5"),
    "timeout": fixed("5"),
    "concurrency": fixed("4"),
    "limit": fixed("3"),
    "command": fixed(["true"], ["echo", "hi"]),
    "destination": fixed("/tmp/mcis-x"),
    "description": fixed("d", "x" * 300),
    "cloud": fixed("aws"),
    "policy": fixed("continue"),
    "image_os": fixed("ubuntu-22.04"),
}
GOOD_BY_COMMAND: dict[tuple[tuple[str, ...], str], Strategy] = {
    (("create",), "group"): lambda w: st.just(f"{w.spec},{w.image},1"),
    (("add-group",), "group"): lambda w: st.just(f"{w.spec},{w.image},1"),
    (("resource", "create"), "name"): fixed("k9"),
    (("connection", "add"), "region"): fixed("us-east-1"),
}
ODD: dict[str, Strategy] = {
    "limit": strategy(HUGE),
    "min_vcpus": strategy(HUGE),
    "max_vcpus": strategy(HUGE),
    "min_memory": strategy(HUGE),
    "max_memory": strategy(HUGE),
    "max_price": strategy(HUGE),
    "region": strategy(UNKNOWN_NAMES),
    "description": fixed("ü" * 10_000),
}
"""Odd but valid values, for read-only commands."""


def is_number(action: argparse.Action) -> bool:
    return getattr(action.type, "numeric", False) or action.type in (int, float)


@dataclass
class Invocation:
    argv: list[str]
    bad: list[str]  # what was made bad, for the report
    must_fail: bool


@st.composite
def invocation(draw: st.DrawFn, world: World, path: tuple[str, ...]) -> Invocation:
    parser = COMMANDS[path]
    actions = [
        a
        for a in parser._actions
        if not isinstance(a, argparse._HelpAction) and a.dest not in ("json", "handler")
    ]

    def bad_strategy(action: argparse.Action) -> Strategy | None:
        found = BAD_BY_COMMAND.get((path, action.dest)) or BAD.get(action.dest)
        if found is None and is_number(action):
            return strategy(BAD_NUMBERS)
        return found

    checked = CHECKED.get(path) or {
        a.dest for a in actions if not a.option_strings and a.dest in BAD and a.nargs != "*"
    }
    checked = {d for d in checked if any(a.dest == d for a in actions)}
    # bad values three times as often as the argparse-level mistakes (caught before any code)
    kinds = ["unknown option", "unknown choice", "number", "missing"]
    kinds += [f"bad {d}" for d in sorted(checked)] * 3
    kinds = [k for k in kinds if k != "unknown choice" or any(a.choices for a in actions)]
    kinds = [k for k in kinds if k != "number" or any(is_number(a) for a in actions)]
    kinds = [k for k in kinds if k != "missing" or any(a.required for a in actions)]
    read_only = path in READ_ONLY
    poison = draw(st.sampled_from(kinds)) if not read_only or draw(st.booleans()) else None
    poisoned: set[str] = set()
    if poison and poison.startswith("bad "):
        poisoned.add(poison[4:])
    elif poison == "number":
        poisoned.add(draw(st.sampled_from([a.dest for a in actions if is_number(a)])))
    elif poison == "unknown choice":
        poisoned.add(draw(st.sampled_from([a.dest for a in actions if a.choices])))
    missing = (
        draw(st.sampled_from([a.dest for a in actions if a.required]))
        if poison == "missing"
        else None
    )

    def value(action: argparse.Action) -> Any:
        dest = action.dest
        if dest in poisoned:
            if poison == "number":
                return draw(NOT_A_NUMBER)
            if poison == "unknown choice":
                return draw(st.text(max_size=10).filter(lambda s: s not in (action.choices or ())))
            bad = bad_strategy(action)
            assert bad is not None, dest
            return draw(bad(world))
        pools = []
        good = GOOD_BY_COMMAND.get((path, dest)) or GOOD.get(dest)
        if action.choices:
            pools.append(st.sampled_from(sorted(map(str, action.choices))))
        elif good is not None:
            pools.append(good(world))
        if read_only or good is None:
            odd, bad = ODD.get(dest), bad_strategy(action)
            pools += [s(world) for s in (odd, bad) if s is not None and dest not in checked]
        if not pools:
            pools.append(UNKNOWN_NAMES)
        return draw(st.one_of(pools))

    argv = list(path)
    tail: list[str] = []
    for action in actions:
        if action.dest == missing:
            continue
        if not action.option_strings:  # positional
            if action.nargs == "?" and action.dest not in poisoned and draw(st.booleans()):
                break  # the rest of the optional positionals are left out too
            if action.nargs == "*":
                tail = list(value(action))
            else:
                argv.append(str(value(action)))
            continue
        flag = action.option_strings[-1]
        wanted = action.required or action.dest in poisoned or draw(st.booleans())
        if not wanted:
            continue
        if action.nargs == 0:
            argv.append(flag)
        else:
            argv += [flag, str(value(action))]
    if poison == "unknown option":
        argv.append(draw(st.sampled_from(["--zz-bogus", "--zz=1", "-Z"])))
    if tail:
        argv += ["--", *tail]
    if draw(st.booleans()):
        argv.append("--json")
    bad = [poison] if poison and not poisoned else [f"{poison}: {d}" for d in poisoned]
    return Invocation(argv, bad, must_fail=poison is not None)


def check(outcome: Outcome, call: Invocation) -> None:
    what = f"mcis {' '.join(call.argv)!r:.300} ({', '.join(call.bad) or 'odd values'})"
    assert outcome.exception is None, f"{what}: raised {outcome.exception!r}"
    assert "Traceback" not in outcome.stdout + outcome.stderr, f"{what}: {outcome.stderr}"
    assert outcome.code in (0, 1, 2), f"{what}: exit {outcome.code}"
    if call.must_fail:
        assert outcome.code == 2, f"{what}: exit {outcome.code}, {outcome.stderr!r:.500}"
    if outcome.code != 0:
        lines = outcome.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("mcis: "), f"{what}: {outcome.stderr!r}"
        assert len(lines[0]) < 1000, f"{what}: a {len(lines[0])}-character line"


# --- the stack ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with private_stack(tmp_path_factory.mktemp("mcis-bad"), "mcis-bad") as stack:
        stack.ok("ns", "create", NS)
        spec = stack.json("catalog", "specs", "--provider", "aws", "--region", "us-east-1")[0]
        image = stack.json("catalog", "images", "--provider", "aws", "--region", "us-east-1")[0]
        stack.ok("create", NS, MCIS, "--group", f"{spec['id']},{image['id']},1")
        files = tmp_path_factory.mktemp("mcis-bad-files")
        world = World(stack, files, spec["id"], image["id"])
        VALID_DOCUMENTS["request"]["groups"][0].update(spec=world.spec, image=world.image)
        with pytest.MonkeyPatch.context() as patch:
            start_workflow = Client.start_workflow

            async def recording(self: Client, workflow: Any, *args: Any, **kwargs: Any) -> Any:
                world.starts.append(str(kwargs.get("id")))
                return await start_workflow(self, workflow, *args, **kwargs)

            patch.setattr(Client, "start_workflow", recording)
            yield world


@dataclass(repr=False)
class Baseline:
    workflows: set[str]
    state: dict[str, Any]


def state_of(stack: E2E) -> dict[str, Any]:
    """Everything a bad command could have changed, but the catalog and host keys."""
    dump = Store.from_settings(stack.settings).dump()
    credentials = stack.settings.connections_file
    return {
        "store": {k: v for k, v in dump.items() if k in ("namespaces", "resources", "mcis")},
        "vms": sorted(vm["id"] for vm in stack.cloud("/admin/vms")),
        "faults": stack.cloud("/admin/faults"),
        "timings": stack.cloud("/admin/timings"),
        "credentials": credentials.read_text() if credentials.exists() else None,
    }


@pytest.fixture(scope="module")
def baseline(world: World) -> Baseline:
    return Baseline(settled_workflow_ids(world.stack), state_of(world.stack))


@pytest.mark.e2e
@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_bad_input_to_every_command_is_one_clear_line_and_starts_nothing(
    world: World, baseline: Baseline, path: tuple[str, ...], data: st.DataObject
) -> None:
    call = data.draw(invocation(world, path), label="call")
    starts = len(world.starts)
    outcome = run_in_process(world.stack, call.argv)
    check(outcome, call)
    if call.must_fail or path in READ_ONLY:
        assert world.starts[starts:] == [], f"mcis {' '.join(call.argv)!r:.300} started them"


@pytest.mark.e2e
def test_the_same_through_the_real_command(world: World) -> None:
    """A few of the worst through the `mcis` script in a subprocess (what a user runs)."""
    bomb = world.write(".yaml", ALIAS_BOMB)
    deep = world.write(".json", b"[" * 100_000 + b"]" * 100_000)
    for args in (
        ["create", NS, "-f", bomb],
        ["policy", "create", NS, MCIS, "-f", deep],
        ["scale-out", NS, MCIS, "--group", GROUP, "--count", str(10**30)],
        ["cmd", NS, MCIS, "--timeout", "inf", "--", "true"],
        ["status", "../etc", MCIS],
    ):
        done = E2E.run(world.stack, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.startswith("mcis: ") and done.stderr.count("\n") == 1, done.stderr


@pytest.mark.e2e
def test_nothing_started_or_changed(world: World, baseline: Baseline) -> None:
    """Runs last in this module: the Temporal server saw no new workflow, and the store, the
    cloud and the credentials file are as they were."""
    assert settled_workflow_ids(world.stack) == baseline.workflows
    assert state_of(world.stack) == baseline.state


# --- workflow inputs ------------------------------------------------------------------------

GROUP_DATA = {"name": "g", "spec": "aws+r+s", "image": "aws+r+i", "count": 1}
VALID_INPUTS: dict[type[BaseModel], dict[str, Any]] = {
    McisWorkflowInput: {"namespace": NS, "request": {"name": MCIS, "groups": [GROUP_DATA]}},
    OperationRequest: {"kind": "add-group", "group": GROUP, "count": 2, "new_group": GROUP_DATA},
    PolicyWorkflowInput: {
        "namespace": NS,
        "mcis": MCIS,
        "policy": {**VALID_DOCUMENTS["policy"], "min_vms": 1, "max_vms": 5},
    },
    RemoteWorkflowInput: {
        "query": {"namespace": NS, "mcis": MCIS, "group": GROUP, "vm": VM},
        "command": "true",
        "timeout_s": 10,
        "concurrency": 5,
    },
    ResourceWorkflowInput: {
        "security_group": {
            "namespace": NS,
            "name": "sg",
            "provider": "aws",
            "region": "r",
            "vnet": "net",
            "rules": [{"protocol": "tcp", "from_port": 22, "to_port": 22}],
        }
    },
    SweepInput: {"delete_orphans": True},
}
"""A valid input of every workflow (and of the MCIS workflow's Update); each test mutates it."""


def _bounds(info: Any) -> dict[str, Any]:
    found = {}
    for item in info.metadata:
        for name in ("ge", "gt", "le", "lt", "min_length", "max_length"):
            if getattr(item, name, None) is not None:
                found[name] = getattr(item, name)
    return found


def _kind(annotation: Any) -> tuple[Any, bool]:
    """(the type of a field, None aside; whether it is a checked name)."""
    args = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    args = tuple(a for a in args if a is not type(None))
    names = any(
        get_origin(a) is Annotated
        and any(getattr(m, "func", None) is check_name for m in a.__metadata__)
        for a in args
    )
    plain = [get_args(a)[0] if get_origin(a) is Annotated else a for a in args]
    return plain[0], names


def _outside(kind: Any, bounds: dict[str, Any]) -> list[Any]:
    """Values of a numeric field outside its bounds (non-finite ones for a bounded float)."""
    if kind not in (int, float):
        return []
    values = [bounds["ge"] - 1] if "ge" in bounds else []
    values += [bounds[k] for k in ("gt", "lt") if k in bounds]
    values += [bounds["le"] + 1] if "le" in bounds else []
    if values and kind is int:
        values.append(10**30 if "le" in bounds or "lt" in bounds else -(10**30))
    if values and kind is float:
        values += [math.nan, math.inf if "le" in bounds or "lt" in bounds else -math.inf]
    return values


MISSING = object()


@st.composite
def invalid(draw: st.DrawFn, model: type[BaseModel], data: dict[str, Any]) -> tuple[str, Any]:
    """(what, data) with one field of `model`, or of a model inside it, made invalid."""
    fields = {n: f for n, f in model.model_fields.items() if n in data or f.is_required()}
    forbids_extra = model.model_config.get("extra") == "forbid"
    name = draw(st.sampled_from([*fields, *(["<extra>"] if forbids_extra else [])]))
    if name == "<extra>":
        return "an unknown field", {**data, "zz_unknown": 1}
    info = fields[name]
    kind, checked_name = _kind(info.annotation)
    element = get_args(kind)[0] if get_origin(kind) is list else None
    nested = next(
        (t for t in (kind, element) if isinstance(t, type) and issubclass(t, BaseModel)), None
    )
    options: list[st.SearchStrategy[tuple[str, Any]]] = []
    if info.is_required():
        options.append(st.just(("missing", MISSING)))
    wrongs: dict[Any, list[Any]] = {
        str: [12, [1], {"a": 1}],
        int: ["abc", 1.5, [1], {"a": 1}],
        float: ["abc", "1,5", [1], {"a": 1}],
        bool: ["maybe", 2, [1]],
    }
    wrong = wrongs.get(kind, ["text", 12])
    options.append(st.sampled_from(wrong).map(lambda v: ("wrong type", v)))
    if checked_name:
        options.append(INVALID_NAMES.map(lambda v: ("invalid name", v)))
    if isinstance(kind, type) and issubclass(kind, Enum):
        known = {str(m.value) for m in kind}
        unknown = st.text(max_size=12).filter(lambda v: v not in known)
        options.append(unknown.map(lambda v: ("unknown value", v)))
    bounds = _bounds(info)
    outside = _outside(kind, bounds)
    if outside:
        options.append(st.sampled_from(outside).map(lambda v: ("out of range", v)))
    if "min_length" in bounds:
        options.append(st.just(("too short", [])))
    if "max_length" in bounds and kind is str:
        options.append(st.just(("too long", "x" * (bounds["max_length"] + 1))))
    inner = data.get(name)
    inner = inner[0] if isinstance(inner, list) and inner else inner
    if nested is not None and isinstance(inner, dict):
        deeper = invalid(nested, inner).map(lambda wv: ("inner", wv))
        options.append(deeper)
    what, value = draw(st.one_of(options))
    if what == "inner":
        inner_what, inner_value = value
        value = [inner_value] if isinstance(data[name], list) else inner_value
        return f"{name}.{inner_what}", {**data, name: value}
    if value is MISSING:
        return f"{name} missing", {k: v for k, v in data.items() if k != name}
    return f"{name}: {what} {value!r:.40}", {**data, name: value}


@pytest.mark.parametrize("model", list(VALID_INPUTS), ids=lambda m: m.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_invalid_workflow_input_is_refused_before_any_workflow_starts(
    model: type[BaseModel], data: st.DataObject
) -> None:
    model.model_validate(VALID_INPUTS[model])  # the baseline is valid
    what, bad = data.draw(invalid(model, VALID_INPUTS[model]), label="mutation")
    with pytest.raises(ValidationError) as refused:
        model.model_validate(bad)
    line = validation_message(refused.value, model.__name__)
    assert "\n" not in line and line.startswith(f"invalid {model.__name__}"), (what, line)
