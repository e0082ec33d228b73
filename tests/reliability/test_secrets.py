"""Secrets, in numbers: on one private stack with a cloud connection holding fake credentials,
an SSH key resource, an MCIS with its shared key, remote commands, an uploaded file, the key
handed out with `access --key-file`, a policy and an orphan sweep, every place a secret could
end up is scanned for the private keys, the credentials, the uploaded file's content and the
store's own Fernet key: every workflow history (decoded payloads and raw JSON), every command's
output (`--json` and tables), the store's dump, and every file of MCIS_HOME (logs, the store's
and the Temporal server's databases, ...). 0 hits in plain text; the secrets live only in the
credentials file (mode 0600), the Fernet key file (0600) and the key file asked for (0600)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from catalog.entries import catalog_id
from localcloud.flavors import FLAVORS
from models.records import ResourceKind
from starter.processes import free_port, port_in_use
from store.repository import Store
from tests.e2e.test_create_delete import decoded_history
from tests.reliability.private_cli import (
    InProcessCli,
    private_stack,
    run_in_process,
    temporal_client,
)
from tests.sshd_server import Sshd, sshd_available

pytestmark = pytest.mark.e2e

NS = "sec"
TAG = uuid.uuid4().hex[:16]
AWS_SECRET = f"mcis-fake-secret-{TAG}"
AWS_KEY_ID = f"AKIAFAKE{TAG[:12].upper()}"
UPLOADED = f"mcis-uploaded-secret-{TAG}"


@dataclass
class Scenario:
    stack: InProcessCli
    key_file: Path
    outputs: list[str] = field(default_factory=list)

    def cli(self, *args: str, stdin: str = "", ok: bool = True) -> str:
        outcome = run_in_process(self.stack, args, stdin)
        assert outcome.exception is None, (args, outcome.exception)
        self.outputs.append(f"$ mcis {' '.join(args)}\n{outcome.stdout}{outcome.stderr}")
        if ok:
            assert outcome.code == 0, (args, outcome.stderr)
        return outcome.stdout

    def json(self, *args: str, ok: bool = True) -> Any:
        """The command's --json output (the flag before a `--` that starts a command)."""
        words = list(args)
        at = words.index("--") if "--" in words else len(words)
        return json.loads(self.cli(*words[:at], "--json", *words[at:], ok=ok) or "null")

    @property
    def home(self) -> Path:
        return self.stack.settings.home


def add_connection(stack: InProcessCli) -> None:
    """A connection to an AWS account that does not exist (nothing answers at its endpoint):
    its worker holds the credentials and signs requests with them."""
    outcome = run_in_process(
        stack,
        [
            "connection",
            "add",
            "ec2",
            "--cloud",
            "aws",
            "--region",
            "us-east-1",
            "--access-key-id",
            AWS_KEY_ID,
            "--secret-stdin",
            "--endpoint",
            f"http://127.0.0.1:{free_port()}",
        ],
        stdin=AWS_SECRET + "\n",
    )
    assert outcome.code == 0, outcome.stderr


@contextlib.contextmanager
def vm_sshd(stack: InProcessCli, mcis: dict[str, Any], home: Path) -> Iterator[bool]:
    """Where the system has sshd, one that answers at the phantom VMs' addresses (port 22)
    and accepts the MCIS's key, so commands authenticate with it for real; True if running.
    Elsewhere the commands are refused a connection (after the activity read the key)."""
    addresses = tuple(vm["public_ip"] for vm in mcis["vms"])
    if not sshd_available() or any(port_in_use(a, 22) for a in addresses):
        yield False
        return
    key = Store.from_settings(stack.settings).get_resource(
        NS, ResourceKind.SSH_KEY, "shared-aws-us-east-1"
    )
    assert key is not None
    (home / "authorized_keys").write_text(key.details["public_key"] + "\n")
    server = Sshd(home=home, port=22, private_key="", addresses=addresses)
    server.new_host_key()
    server.start()
    try:
        yield True
    finally:
        server.stop()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    home = tmp_path_factory.mktemp("mcis-secrets")
    key_file = tmp_path_factory.mktemp("mcis-secrets-out") / "web.key"
    with private_stack(home, "mcis-secrets", prepare=add_connection) as stack:
        run = Scenario(stack, key_file)
        run.cli("ns", "create", NS)
        run.json(
            "resource",
            "create",
            "ssh-key",
            NS,
            "key1",
            "--provider",
            "aws",
            "--region",
            "us-east-1",
        )
        image = run.json("catalog", "images", "--provider", "aws", "--region", "us-east-1")[0]
        spec = catalog_id("aws", "us-east-1", FLAVORS["aws"].specs[0].name)
        mcis = run.json("create", NS, "web", "--group", f"{spec},{image['id']},2")
        with vm_sshd(stack, mcis, tmp_path_factory.mktemp("mcis-secrets-sshd")) as sshd:
            results = run.json("cmd", NS, "web", "--timeout", "10", "--", "echo", "hi", ok=False)
            upload = home.parent / f"upload-{TAG}.txt"
            upload.write_text(UPLOADED)
            destination = f"/tmp/mcis-uploaded-{TAG}"
            run.json("put", NS, "web", str(upload), destination, "--timeout", "10", ok=False)
            upload.unlink()
            if sshd:  # the key was used for real: the command ran, the file arrived
                assert [r["stdout"] for r in results] == ["hi\n", "hi\n"], results
                assert Path(destination).read_text() == UPLOADED
                Path(destination).unlink()
        run.json("access", NS, "web")
        run.cli("access", NS, "web", "--key-file", str(key_file))
        policy = home.parent / "policy.yaml"
        policy.write_text(
            "sample_interval_s: 0.5\nrules:\n  - condition: {metric: cpu, operator: '>=', "
            "operand: 80}\n    action: {kind: ScaleOut, count: 1}\n"
        )
        run.json("policy", "create", NS, "web", "-f", str(policy))
        run.json("policy", "status", NS, "web")
        run.json("policy", "delete", NS, "web")
        run.json("reconcile", "--all", ok=False)  # ec2 cannot be listed: reported, exit 1
        run.json("connection", "list")
        run.json("connection", "check", "ec2", ok=False)
        for args in (
            ("status", NS, "web"),
            ("list", NS),
            ("resource", "list", NS),
            ("ns", "list"),
            ("stack", "status"),
            ("localcloud", "vms"),
        ):
            run.json(*args)
            run.cli(*args)
        run.cli("delete", NS, "web")
        yield run


@dataclass
class Secrets:
    private_keys: dict[str, str]  # resource name -> PEM
    fernet_key: str

    def needles(self) -> dict[str, str]:
        """What must never appear in plain text: each line of each private key's body, the
        PEM marker, the credentials, the uploaded content, the store's Fernet key."""
        found = {
            "private key marker": "PRIVATE KEY",
            "aws secret access key": AWS_SECRET,
            "aws access key id": AWS_KEY_ID,
            "uploaded file content": UPLOADED,
            "store key": self.fernet_key,
        }
        for name, pem in self.private_keys.items():
            for index, line in enumerate(pem.strip().splitlines()[1:-1]):
                if len(line) >= 16:
                    found[f"private key {name} line {index + 1}"] = line
        return found


@pytest.fixture(scope="module")
def secrets(scenario: Scenario) -> Secrets:
    store = Store.from_settings(scenario.stack.settings)
    keys = {
        record.name: store.get_secret(record.secret_ref or "")
        for record in store.list_resources(NS, ResourceKind.SSH_KEY)
    }
    assert set(keys) == {"key1"}  # the MCIS's shared key went with its deletion...
    assert "BEGIN OPENSSH PRIVATE KEY" in keys["key1"]
    shared = scenario.key_file.read_text()  # ...but its copy handed out by `access` remains
    assert "BEGIN OPENSSH PRIVATE KEY" in shared
    keys["shared"] = shared
    return Secrets(keys, (scenario.home / "secret.key").read_text().strip())


def hits(text: str, secrets: Secrets) -> list[str]:
    return [what for what, needle in secrets.needles().items() if needle in text]


def test_the_scan_finds_the_secrets_where_they_belong(scenario: Scenario, secrets: Secrets) -> None:
    """The detector works: it finds each secret in the one place that holds it."""
    credentials = (scenario.home / "credentials.yaml").read_text()
    assert set(hits(credentials, secrets)) == {"aws secret access key", "aws access key id"}
    assert "store key" in hits((scenario.home / "secret.key").read_text(), secrets)
    in_key_file = hits(scenario.key_file.read_text(), secrets)
    assert "private key marker" in in_key_file
    assert sum(what.startswith("private key shared line") for what in in_key_file) >= 3
    assert len(secrets.needles()) >= 10


def test_no_secret_in_any_workflow_history(scenario: Scenario, secrets: Secrets) -> None:
    async def histories() -> dict[str, str]:
        client = await temporal_client(scenario.stack)
        found = {}
        async for execution in client.list_workflows():
            handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
            raw = (await handle.fetch_history()).to_json()
            found[f"{execution.workflow_type} {execution.id}"] = decoded_history(raw)
        return found

    found = asyncio.run(histories())
    kinds = {name.split()[0] for name in found}
    assert {"McisWorkflow", "ResourceWorkflow", "RemoteWorkflow", "PolicyWorkflow"} <= kinds
    assert "SweepWorkflow" in kinds
    assert any('"secret_ref"' in history for history in found.values())  # payloads decoded
    leaks = {name: hits(history, secrets) for name, history in found.items()}
    assert {name: what for name, what in leaks.items() if what} == {}


def test_no_secret_in_any_command_output(scenario: Scenario, secrets: Secrets) -> None:
    outputs = "\n".join(scenario.outputs)
    assert "key_file" in outputs and str(scenario.key_file) in outputs
    assert "secret_access_key" in outputs  # the credential's name, listed by `connection list`
    assert hits(outputs, secrets) == []


def test_no_secret_in_the_store_dump(scenario: Scenario, secrets: Secrets) -> None:
    dump = Store.from_settings(scenario.stack.settings).dump()
    assert dump["secrets"], "the private key of key1 is stored, encrypted"
    assert hits(json.dumps(dump), secrets) == []


def test_no_secret_in_any_file_of_the_home_but_where_it_belongs(
    scenario: Scenario, secrets: Secrets
) -> None:
    home = scenario.home
    expected = {home / "credentials.yaml", home / "secret.key"}
    for path in [*expected, scenario.key_file]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert AWS_SECRET in (home / "credentials.yaml").read_text()
    scanned: list[str] = []
    leaks: dict[str, list[str]] = {}
    for path in sorted(p for p in home.rglob("*") if p.is_file() and p not in expected):
        scanned.append(path.relative_to(home).as_posix())
        found = hits(path.read_bytes().decode(errors="replace"), secrets)
        if found:
            leaks[path.relative_to(home).as_posix()] = found
    assert {"logs/worker.log", "logs/temporal.log", "logs/localcloud.log", "mcis.db"} <= set(
        scanned
    )
    assert any(name.startswith("temporal.db") for name in scanned)
    assert leaks == {}
