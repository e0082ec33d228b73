"""The store on a temporary SQLite file, and on PostgreSQL: MCIS_TEST_POSTGRES_URL if set, else a
throwaway server (tests/postgres_server.py); `pytest -k postgres` selects those."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError
from sqlalchemy import create_engine
from sqlmodel import SQLModel

from models.records import (
    McisPhase,
    McisRecord,
    NamespaceRecord,
    ResourceKind,
    ResourceRecord,
    VmRecord,
)
from models.status import VmStatus
from settings import load_settings
from store import AlreadyExistsError, InUseError, NotFoundError, Store, StoreError, VmChanges
from store.tables import ROWS, table_of

POSTGRES_URL_ENV = "MCIS_TEST_POSTGRES_URL"
PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-very-secret\n"


@pytest.fixture(autouse=True)
def _no_secret_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCIS_SECRET_KEY", raising=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'mcis.db'}"
    url = os.environ.get(POSTGRES_URL_ENV) or str(request.getfixturevalue("postgres_url"))
    engine = create_engine(url)
    SQLModel.metadata.drop_all(engine, tables=[table_of(row) for row in ROWS])
    engine.dispose()
    return url


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def store(database_url: str, home: Path) -> Iterator[Store]:
    with _open(database_url, home) as opened:
        yield opened


@pytest.fixture
def sqlite_store(tmp_path: Path, home: Path) -> Iterator[Store]:
    with _open(f"sqlite:///{tmp_path / 'mcis.db'}", home) as opened:
        yield opened


@contextmanager
def _open(database_url: str, home: Path) -> Iterator[Store]:
    store = Store(database_url, home)
    try:
        yield store
    finally:
        store.close()


def _resource(
    kind: ResourceKind, name: str, namespace: str = "dev", **fields: Any
) -> ResourceRecord:
    values: dict[str, Any] = {
        "provider": "aws",
        "region": "us-east-1",
        "csp_id": f"id-{name}",
        **fields,
    }
    return ResourceRecord(namespace=namespace, kind=kind, name=name, **values)


def _mcis(name: str, namespace: str = "dev") -> McisRecord:
    return McisRecord(namespace=namespace, name=name, uid=f"uid-{name}")


def _vm(name: str, mcis: str = "web", namespace: str = "dev", **fields: Any) -> VmRecord:
    values: dict[str, Any] = {
        "group": name.rsplit("-", 1)[0],
        "provider": "aws",
        "region": "us-east-1",
        "spec": "aws-us-east-1-t3-small",
        "image": "ubuntu-22.04",
        "client_token": f"tok-{namespace}-{mcis}-{name}",
        "vnet": "net",
        "security_groups": ["sg"],
        "ssh_key": "key",
        **fields,
    }
    return VmRecord(namespace=namespace, mcis=mcis, name=name, **values)


def _names(vms: list[VmRecord]) -> list[str]:
    return [vm.name for vm in vms]


# namespaces


def test_namespace_round_trip(store: Store) -> None:
    created = store.create_namespace(NamespaceRecord(name="dev", description="team dev"))
    store.create_namespace(NamespaceRecord(name="alpha"))

    assert created.created_at is not None and created.created_at.tzinfo is not None
    assert store.get_namespace("dev") == created
    assert [ns.name for ns in store.list_namespaces()] == ["alpha", "dev"]
    assert store.get_namespace("nope") is None


def test_create_namespace_twice_is_refused(store: Store) -> None:
    store.create_namespace(NamespaceRecord(name="dev"))
    with pytest.raises(AlreadyExistsError, match=r"^namespace 'dev' already exists$"):
        store.create_namespace(NamespaceRecord(name="dev", description="other"))
    assert store.get_namespace("dev") == store.list_namespaces()[0]


def test_delete_namespace_refused_while_it_holds_mcis_or_resources(store: Store) -> None:
    store.create_namespace(NamespaceRecord(name="dev"))
    store.create_mcis(_mcis("a"))
    store.create_mcis(_mcis("b"))
    for name in ("net1", "net2", "net3"):
        store.upsert_resource(_resource(ResourceKind.VNET, name))

    with pytest.raises(InUseError, match=r"^namespace 'dev' still holds 2 MCIS and 3 resources$"):
        store.delete_namespace("dev")

    store.delete_mcis("dev", "a")
    store.delete_mcis("dev", "b")
    store.delete_resource("dev", ResourceKind.VNET, "net1")
    store.delete_resource("dev", ResourceKind.VNET, "net2")
    with pytest.raises(InUseError, match=r"^namespace 'dev' still holds 1 resource$"):
        store.delete_namespace("dev")

    store.delete_resource("dev", ResourceKind.VNET, "net3")
    store.delete_namespace("dev")
    assert store.get_namespace("dev") is None
    with pytest.raises(NotFoundError, match=r"^namespace 'dev' not found$"):
        store.delete_namespace("dev")


# resources


def test_resource_round_trip_and_upsert_keeps_one_row(store: Store) -> None:
    record = _resource(
        ResourceKind.SSH_KEY,
        "key",
        shared=True,
        details={"fingerprint": "aa:bb", "tags": {"team": "dev"}},
        secret_ref="dev/ssh_key/key",
    )
    first = store.upsert_resource(record)
    assert first.model_dump(exclude={"created_at"}) == record.model_dump(exclude={"created_at"})
    assert first.created_at is not None
    assert store.upsert_resource(record) == first  # idempotent

    changed = store.upsert_resource(record.model_copy(update={"csp_id": "kp-2"}))
    assert changed.csp_id == "kp-2"
    assert changed.created_at == first.created_at
    assert store.get_resource("dev", ResourceKind.SSH_KEY, "key") == changed
    assert store.list_resources("dev") == [changed]
    assert store.get_resource("dev", ResourceKind.VNET, "key") is None


def test_list_resources_filters_and_orders(store: Store) -> None:
    store.upsert_resource(_resource(ResourceKind.VNET, "b-net"))
    store.upsert_resource(_resource(ResourceKind.VNET, "a-net", shared=True))
    store.upsert_resource(_resource(ResourceKind.SECURITY_GROUP, "sg", shared=True))
    store.upsert_resource(_resource(ResourceKind.VNET, "elsewhere", namespace="prod"))

    def names(**filters: Any) -> list[tuple[str, str]]:
        return [(r.kind.value, r.name) for r in store.list_resources("dev", **filters)]

    assert names() == [("security_group", "sg"), ("vnet", "a-net"), ("vnet", "b-net")]
    assert names(kind=ResourceKind.VNET) == [("vnet", "a-net"), ("vnet", "b-net")]
    assert names(shared=True) == [("security_group", "sg"), ("vnet", "a-net")]
    assert names(kind=ResourceKind.VNET, shared=False) == [("vnet", "b-net")]
    assert names(kind=ResourceKind.SSH_KEY) == []


def test_delete_resource_is_idempotent_and_deletes_its_secret(store: Store) -> None:
    store.put_secret("dev/key", PRIVATE_KEY)
    store.upsert_resource(_resource(ResourceKind.SSH_KEY, "key", secret_ref="dev/key"))

    store.delete_resource("dev", ResourceKind.SSH_KEY, "key")
    store.delete_resource("dev", ResourceKind.SSH_KEY, "key")

    assert store.get_resource("dev", ResourceKind.SSH_KEY, "key") is None
    assert not store.has_secret("dev/key")


def test_resource_users_are_the_mcis_whose_vms_use_it(store: Store) -> None:
    store.upsert_vms(
        [
            _vm("web-1", mcis="a", vnet="net1", security_groups=["sg1", "sg2"], ssh_key="k1"),
            _vm("web-2", mcis="a", vnet="net1", security_groups=["sg1", "sg2"], ssh_key="k1"),
            _vm("db-1", mcis="b", vnet="net2", security_groups=["sg2"], ssh_key="k1"),
            _vm("web-1", mcis="c", namespace="prod", vnet="net1", security_groups=["sg1"]),
        ]
    )

    assert store.resource_users("dev", ResourceKind.VNET, "net1") == ["a"]
    assert store.resource_users("dev", ResourceKind.VNET, "net2") == ["b"]
    assert store.resource_users("dev", ResourceKind.SECURITY_GROUP, "sg1") == ["a"]
    assert store.resource_users("dev", ResourceKind.SECURITY_GROUP, "sg2") == ["a", "b"]
    assert store.resource_users("dev", ResourceKind.SSH_KEY, "k1") == ["a", "b"]
    assert store.resource_users("dev", ResourceKind.SECURITY_GROUP, "sg") == []

    store.delete_mcis("dev", "a")
    assert store.resource_users("dev", ResourceKind.VNET, "net1") == []


# secrets


def test_secret_round_trip(store: Store) -> None:
    assert not store.has_secret("dev/key")
    with pytest.raises(NotFoundError, match=r"^secret 'dev/key' not found$"):
        store.get_secret("dev/key")

    store.put_secret("dev/key", PRIVATE_KEY)
    assert store.has_secret("dev/key")
    assert store.get_secret("dev/key") == PRIVATE_KEY

    store.put_secret("dev/key", "replaced")
    assert store.get_secret("dev/key") == "replaced"

    store.delete_secret("dev/key")
    store.delete_secret("dev/key")
    assert not store.has_secret("dev/key")


def test_secret_is_encrypted_at_rest(sqlite_store: Store, tmp_path: Path, home: Path) -> None:
    sqlite_store.put_secret("dev/key", PRIVATE_KEY)
    sqlite_store.upsert_resource(_resource(ResourceKind.SSH_KEY, "key", secret_ref="dev/key"))

    raw = b"".join(path.read_bytes() for path in tmp_path.glob("mcis.db*"))
    assert b"very-secret" not in raw
    dumped = json.dumps(sqlite_store.dump())
    assert "very-secret" not in dumped
    ciphertext = sqlite_store.dump()["secrets"][0]["ciphertext"]
    assert ciphertext and ciphertext in dumped
    key = (home / "secret.key").read_text().strip()
    for text in (dumped, repr(sqlite_store), repr(vars(sqlite_store))):
        assert "very-secret" not in text
        assert key not in text


def test_key_file_is_private_and_reused_by_another_store(
    database_url: str, store: Store, home: Path
) -> None:
    store.put_secret("dev/key", PRIVATE_KEY)

    key_file = home / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with _open(database_url, home) as second:
        assert second.get_secret("dev/key") == PRIVATE_KEY


def test_key_from_env_is_used_instead_of_the_file(
    database_url: str, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCIS_SECRET_KEY", Fernet.generate_key().decode())
    with _open(database_url, home) as first:
        first.put_secret("dev/key", PRIVATE_KEY)
    assert not (home / "secret.key").exists()

    with _open(database_url, tmp_path / "other-home") as second:
        assert second.get_secret("dev/key") == PRIVATE_KEY

    monkeypatch.setenv("MCIS_SECRET_KEY", Fernet.generate_key().decode())
    with _open(database_url, home) as wrong_key, pytest.raises(StoreError) as error:
        wrong_key.get_secret("dev/key")
    assert "secret 'dev/key' cannot be decrypted" in str(error.value)
    assert "very-secret" not in str(error.value)

    monkeypatch.setenv("MCIS_SECRET_KEY", "not-a-key")
    with _open(database_url, home) as bad_key, pytest.raises(StoreError) as error:
        bad_key.get_secret("dev/key")
    assert str(error.value).startswith("MCIS_SECRET_KEY does not hold a valid Fernet key")
    assert "not-a-key" not in str(error.value)


# MCIS


def test_mcis_round_trip(store: Store) -> None:
    request = {"name": "web", "vms": [{"group": "web", "count": 3, "spec": "aws-t3"}]}
    created = store.create_mcis(
        McisRecord(namespace="dev", name="web", uid="u1", description="d", request=request)
    )
    store.create_mcis(_mcis("api"))
    store.create_mcis(_mcis("web", namespace="prod"))

    assert created.phase is McisPhase.CREATING
    assert created.created_at is not None
    assert store.get_mcis("dev", "web") == created
    assert [m.name for m in store.list_mcis("dev")] == ["api", "web"]
    assert store.get_mcis("dev", "nope") is None

    active = store.set_mcis_phase("dev", "web", McisPhase.ACTIVE)
    assert active.phase is McisPhase.ACTIVE
    assert store.get_mcis("dev", "web") == active
    assert store.get_mcis("prod", "web") == store.list_mcis("prod")[0]
    assert store.list_mcis("prod")[0].phase is McisPhase.CREATING


def test_mcis_errors_name_the_mcis(store: Store) -> None:
    store.create_mcis(_mcis("web"))
    with pytest.raises(AlreadyExistsError, match=r"^MCIS 'web' in namespace 'dev' already exists$"):
        store.create_mcis(_mcis("web"))
    with pytest.raises(NotFoundError, match=r"^MCIS 'nope' in namespace 'dev' not found$"):
        store.set_mcis_phase("dev", "nope", McisPhase.FAILED)


def test_delete_mcis_deletes_its_vms_and_is_idempotent(store: Store) -> None:
    store.create_mcis(_mcis("web"))
    store.create_mcis(_mcis("api"))
    store.upsert_vms([_vm("web-1"), _vm("web-2"), _vm("api-1", mcis="api")])

    store.delete_mcis("dev", "web")
    store.delete_mcis("dev", "web")

    assert store.get_mcis("dev", "web") is None
    assert store.list_vms("dev", "web") == []
    assert _names(store.all_vms()) == ["api-1"]


# VMs


def test_vm_round_trip_and_upsert_idempotence(store: Store) -> None:
    vm = _vm("web-1", csp_id="i-1", status=VmStatus.RUNNING, public_ip="1.2.3.4", attempt=1)
    store.upsert_vms([vm])
    store.upsert_vms([vm])

    [stored] = store.list_vms("dev", "web")
    assert stored.model_dump(exclude={"updated_at"}) == vm.model_dump(exclude={"updated_at"})
    assert stored.status is VmStatus.RUNNING
    assert stored.updated_at is not None and stored.updated_at.tzinfo is not None

    replacement = vm.model_copy(update={"attempt": 2, "client_token": "tok-2", "csp_id": None})
    store.upsert_vms([replacement])
    [stored] = store.list_vms("dev", "web")
    assert (stored.attempt, stored.client_token, stored.csp_id) == (2, "tok-2", None)
    assert store.find_vm_by_token("tok-2") == stored
    assert store.find_vm_by_token(vm.client_token) is None


def test_vms_are_ordered_by_group_then_number(store: Store) -> None:
    names = ["web-10", "web-2", "db-1", "web-1", "db-11", "db-3"]
    store.upsert_vms([_vm(name) for name in names])
    store.upsert_vms([_vm("web-1", mcis="other"), _vm("a-1", namespace="alpha")])

    assert _names(store.list_vms("dev", "web")) == [
        "db-1",
        "db-3",
        "db-11",
        "web-1",
        "web-2",
        "web-10",
    ]
    assert [(vm.namespace, vm.mcis, vm.name) for vm in store.all_vms()] == [
        ("alpha", "web", "a-1"),
        ("dev", "other", "web-1"),
        *[("dev", "web", name) for name in _names(store.list_vms("dev", "web"))],
    ]


def test_update_vms_writes_only_the_given_fields(store: Store) -> None:
    store.upsert_vms([_vm("web-1", error="quota"), _vm("web-2"), _vm("web-3")])
    before = {vm.name: vm for vm in store.list_vms("dev", "web")}

    store.update_vms(
        "dev",
        "web",
        {
            "web-1": VmChanges(status=VmStatus.RUNNING, csp_id="i-1", error=None),
            "web-2": VmChanges(
                status=VmStatus.FAILED, native_status="error", error="capacity exceeded"
            ),
        },
    )

    after = {vm.name: vm for vm in store.list_vms("dev", "web")}
    assert (after["web-1"].status, after["web-1"].csp_id, after["web-1"].error) == (
        VmStatus.RUNNING,
        "i-1",
        None,
    )
    assert after["web-2"].model_dump(exclude={"updated_at"}) == before["web-2"].model_copy(
        update={
            "status": VmStatus.FAILED,
            "native_status": "error",
            "error": "capacity exceeded",
        }
    ).model_dump(exclude={"updated_at"})
    assert after["web-3"] == before["web-3"]
    assert after["web-1"].updated_at and before["web-1"].updated_at
    assert after["web-1"].updated_at > before["web-1"].updated_at


def test_update_vms_with_an_unknown_vm_writes_nothing(store: Store) -> None:
    store.upsert_vms([_vm("web-1")])
    with pytest.raises(
        NotFoundError, match=r"^VMs 'web-7', 'web-8' not found in MCIS 'web' in namespace 'dev'$"
    ):
        store.update_vms(
            "dev",
            "web",
            {
                "web-1": VmChanges(status=VmStatus.RUNNING),
                "web-7": VmChanges(status=VmStatus.RUNNING),
                "web-8": VmChanges(status=VmStatus.RUNNING),
            },
        )
    assert store.list_vms("dev", "web")[0].status is VmStatus.CREATING


def test_vm_status_cannot_be_cleared() -> None:
    with pytest.raises(ValidationError, match="status cannot be cleared"):
        VmChanges(status=None)


def test_delete_vms_and_count_in_region(store: Store) -> None:
    store.upsert_vms(
        [
            _vm("web-1"),
            _vm("web-2"),
            _vm("web-3", region="eu-west-1"),
            _vm("web-1", mcis="api"),
            _vm("web-1", namespace="prod"),
        ]
    )
    assert store.count_vms_in_region("dev", "aws", "us-east-1") == 3
    assert store.count_vms_in_region("dev", "aws", "eu-west-1") == 1
    assert store.count_vms_in_region("dev", "gcp", "us-east-1") == 0

    store.delete_vms("dev", "web", ["web-1", "web-3", "web-9"])

    assert _names(store.list_vms("dev", "web")) == ["web-2"]
    assert store.count_vms_in_region("dev", "aws", "us-east-1") == 2
    assert _names(store.list_vms("dev", "api")) == ["web-1"]


def test_thousand_vms_upsert_and_list(store: Store) -> None:
    vms = [_vm(f"{group}-{n}") for group in ("app", "db") for n in range(1, 501)]

    started = time.perf_counter()
    store.upsert_vms(vms)
    upserted = time.perf_counter()
    listed = store.list_vms("dev", "web")
    done = time.perf_counter()

    print(f"\n1000 VMs: upsert {upserted - started:.3f}s, list {done - upserted:.3f}s")
    assert len(listed) == 1000
    assert _names(listed) == [vm.name for vm in vms]

    started = time.perf_counter()
    store.update_vms("dev", "web", {vm.name: VmChanges(status=VmStatus.RUNNING) for vm in vms})
    print(f"1000 VMs: update_vms {time.perf_counter() - started:.3f}s")
    assert {vm.status for vm in store.list_vms("dev", "web")} == {VmStatus.RUNNING}


# the database


def test_two_stores_write_one_database_concurrently(database_url: str, home: Path) -> None:
    with _open(database_url, home) as first, _open(database_url, home) as second:
        first.create_mcis(_mcis("web"))

        def work(worker: int) -> None:
            store = (first, second)[worker % 2]
            for n in range(1, 51):
                store.set_mcis_phase("dev", "web", McisPhase.ACTIVE)  # a read, then a write
                store.upsert_vms([_vm(f"w{worker}-{n}")])
                store.update_vms("dev", "web", {f"w{worker}-{n}": VmChanges(csp_id=f"i-{n}")})
                store.put_secret(f"w{worker}", str(n))
                assert len(store.list_vms("dev", "web")) >= n

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(work, range(4)))

        vms = first.list_vms("dev", "web")
        assert len(vms) == 200
        assert all(vm.csp_id for vm in vms)
        assert [second.get_secret(f"w{worker}") for worker in range(4)] == ["50"] * 4


def test_sqlite_file_is_in_wal_mode(tmp_path: Path, sqlite_store: Store) -> None:
    sqlite_store.create_namespace(NamespaceRecord(name="dev"))
    with sqlite3.connect(tmp_path / "mcis.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_store_from_settings_creates_the_database_in_home(tmp_path: Path) -> None:
    settings = load_settings({"MCIS_HOME": str(tmp_path / "mcis-home")})
    with _open(settings.database_url, settings.home) as store:
        store.create_namespace(NamespaceRecord(name="dev"))
    reopened = Store.from_settings(settings)
    assert reopened.get_namespace("dev") is not None
    reopened.close()
    assert (tmp_path / "mcis-home" / "mcis.db").is_file()


def test_unsupported_database_is_refused(home: Path) -> None:
    with pytest.raises(StoreError, match=r"^unsupported database 'mysql'"):
        Store("mysql://user:password@host/db", home)


def test_dump_lists_every_table_as_json(store: Store) -> None:
    store.create_namespace(NamespaceRecord(name="dev"))
    store.create_mcis(_mcis("web"))
    store.upsert_vms([_vm("web-1")])

    dump = store.dump()

    assert set(dump) == {"namespaces", "resources", "secrets", "host_keys", "mcis", "vms"}
    assert dump["vms"][0]["status"] == "Creating"
    assert dump["vms"][0]["security_groups"] == ["sg"]
    assert json.loads(json.dumps(dump)) == dump
    assert datetime.fromisoformat(dump["namespaces"][0]["created_at"]).utcoffset() is not None


def test_host_keys_are_recorded_replaced_and_forgotten(store: Store) -> None:
    assert store.get_host_key("aws/i-1") is None
    store.put_host_key("aws/i-1", "ssh-ed25519 AAAA1")
    store.put_host_key("aws/i-1", "ssh-ed25519 AAAA2")
    assert store.get_host_key("aws/i-1") == "ssh-ed25519 AAAA2"
    store.forget_host_key("aws/i-1")
    assert store.get_host_key("aws/i-1") is None
