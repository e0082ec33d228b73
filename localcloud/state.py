"""Persistent state of the local cloud in one SQLite file (WAL, busy timeout): vNets with their
subnets, security groups, key pairs, VMs, fault settings and timing overrides.

Plain rows in and out, no lifecycle rules (those live in engine.py). Lists, dicts and sets are
stored as JSON columns and filtered with SQLite's JSON functions, behind the flavor+region index.
A VM is "live" until it is terminated; `LIVE` also counts a VM whose termination deadline has
passed as terminated, so quota and in-use checks are right without settling VMs first.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypedDict, TypeVar

from localcloud.flavors import Phase


def new_id(kind: str) -> str:
    """A fresh id for a stored resource, e.g. `vm-3f9a0c1b2d4e5f60`."""
    return f"{kind}-{secrets.token_hex(8)}"


class Subnet(TypedDict):
    id: str
    name: str
    cidr: str


class Rule(TypedDict):
    direction: str
    protocol: str
    from_port: int
    to_port: int
    cidr: str


@dataclass
class Vnet:
    id: str
    flavor: str
    region: str
    name: str
    cidr: str
    subnets: list[Subnet]
    tags: dict[str, str]
    created_at: float


@dataclass
class SecurityGroup:
    id: str
    flavor: str
    region: str
    name: str
    vnet_id: str
    rules: list[Rule]
    tags: dict[str, str]
    created_at: float


@dataclass
class KeyPair:
    id: str
    flavor: str
    region: str
    name: str
    public_key: str
    fingerprint: str
    tags: dict[str, str]
    created_at: float


@dataclass
class Vm:
    id: str
    flavor: str
    region: str
    name: str
    spec: str
    image: str
    vnet_id: str
    subnet_id: str
    security_group_ids: list[str]
    key_name: str
    client_token: str
    tags: dict[str, str]
    phase: Phase
    from_phase: Phase | None
    phase_started: float
    phase_duration: float
    fails_at_boot: bool
    public_ip: str | None
    private_ip: str | None
    created_at: float

    @property
    def phase_deadline(self) -> float:
        return self.phase_started + self.phase_duration


@dataclass
class FaultSetting:
    """Faults injected for one flavor and region ("*": every region of the flavor)."""

    flavor: str
    region: str = "*"
    api_error_rate: float = 0.0
    boot_failure_rate: float = 0.0
    quota: int | None = None
    throttle_rate: float = 0.0
    retry_after_s: float = 1.0


@dataclass
class TimingOverride:
    """Absolute phase durations for one flavor ("*": all); None keeps the scaled default."""

    flavor: str
    boot_s: float | None = None
    stop_s: float | None = None
    start_s: float | None = None
    reboot_s: float | None = None
    terminate_s: float | None = None


@dataclass
class Counts:
    vms: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    vnets: int = 0
    security_groups: int = 0
    key_pairs: int = 0


_SCHEMA = """
CREATE TABLE IF NOT EXISTS vnets (
    id TEXT PRIMARY KEY, flavor TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    cidr TEXT NOT NULL, subnets TEXT NOT NULL, tags TEXT NOT NULL, created_at REAL NOT NULL,
    UNIQUE (flavor, region, name)
);
CREATE TABLE IF NOT EXISTS security_groups (
    id TEXT PRIMARY KEY, flavor TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    vnet_id TEXT NOT NULL, rules TEXT NOT NULL, tags TEXT NOT NULL, created_at REAL NOT NULL,
    UNIQUE (flavor, region, name)
);
CREATE INDEX IF NOT EXISTS security_groups_vnet ON security_groups (vnet_id);
CREATE TABLE IF NOT EXISTS key_pairs (
    id TEXT PRIMARY KEY, flavor TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    public_key TEXT NOT NULL, fingerprint TEXT NOT NULL, tags TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (flavor, region, name)
);
CREATE TABLE IF NOT EXISTS vms (
    id TEXT PRIMARY KEY, flavor TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    spec TEXT NOT NULL, image TEXT NOT NULL, vnet_id TEXT NOT NULL, subnet_id TEXT NOT NULL,
    security_group_ids TEXT NOT NULL, key_name TEXT NOT NULL, client_token TEXT NOT NULL,
    tags TEXT NOT NULL, phase TEXT NOT NULL, from_phase TEXT, phase_started REAL NOT NULL,
    phase_duration REAL NOT NULL, fails_at_boot INTEGER NOT NULL, public_ip TEXT,
    private_ip TEXT, created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS vms_region ON vms (flavor, region, phase);
CREATE INDEX IF NOT EXISTS vms_vnet ON vms (vnet_id);
CREATE INDEX IF NOT EXISTS vms_subnet ON vms (subnet_id);
CREATE UNIQUE INDEX IF NOT EXISTS vms_token ON vms (flavor, region, client_token)
    WHERE client_token != '';
CREATE TABLE IF NOT EXISTS faults (
    flavor TEXT NOT NULL, region TEXT NOT NULL, api_error_rate REAL NOT NULL,
    boot_failure_rate REAL NOT NULL, quota INTEGER, throttle_rate REAL NOT NULL,
    retry_after_s REAL NOT NULL,
    PRIMARY KEY (flavor, region)
);
CREATE TABLE IF NOT EXISTS timings (
    flavor TEXT PRIMARY KEY, boot_s REAL, stop_s REAL, start_s REAL, reboot_s REAL,
    terminate_s REAL
);
"""

_TABLES = ("vnets", "security_groups", "key_pairs", "vms", "faults", "timings")
_JSON_COLUMNS = frozenset({"subnets", "rules", "tags", "security_group_ids"})

LIVE = (
    "(vms.phase != 'terminated' AND NOT "
    "(vms.phase = 'terminating' AND vms.phase_started + vms.phase_duration <= :now))"
)
"""SQL condition: the VM is not terminated at time :now (settled or not)."""

_PHASE_COLUMNS = ("phase", "from_phase", "phase_started", "phase_duration")

Row = TypeVar("Row", Vnet, SecurityGroup, KeyPair, Vm, FaultSetting, TimingOverride)


def _encode(obj: Any) -> dict[str, Any]:
    return {k: json.dumps(v) if k in _JSON_COLUMNS else v for k, v in asdict(obj).items()}


def _decode(cls: type[Row], row: sqlite3.Row) -> Row:
    values = {k: json.loads(row[k]) if k in _JSON_COLUMNS else row[k] for k in row.keys()}  # noqa: SIM118
    if cls is Vm:
        values["phase"] = Phase(values["phase"])
        values["from_phase"] = values["from_phase"] and Phase(values["from_phase"])
        values["fails_at_boot"] = bool(values["fails_at_boot"])
    return cls(**values)


def _tag_filter(table: str, tags: dict[str, str] | None, params: dict[str, Any]) -> str:
    """SQL requiring every tag (key=value) on rows of `table`; fills `params`."""
    sql = ""
    for i, (key, value) in enumerate((tags or {}).items()):
        params[f"tk{i}"], params[f"tv{i}"] = key, value
        sql += (
            f" AND EXISTS (SELECT 1 FROM json_each({table}.tags)"
            f" WHERE json_each.key = :tk{i} AND json_each.value = :tv{i})"
        )
    return sql


class CloudState:
    """The local cloud's own state (what the cloud holds, never mcis's store): one SQLite
    database; every method runs in the caller's transaction (`transaction()`)."""

    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together, or not at all when it raises."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # generic rows

    def _insert(self, table: str, obj: Vnet | SecurityGroup | KeyPair | Vm) -> None:
        values = _encode(obj)
        columns = ", ".join(values)
        marks = ", ".join(f":{k}" for k in values)
        self._db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)

    def _upsert(self, table: str, obj: FaultSetting | TimingOverride) -> None:
        values = asdict(obj)
        columns = ", ".join(values)
        marks = ", ".join(f":{k}" for k in values)
        self._db.execute(f"INSERT OR REPLACE INTO {table} ({columns}) VALUES ({marks})", values)

    def _select(
        self,
        table: str,
        cls: type[Row],
        equals: Mapping[str, str] | None = None,
        *,
        tags: dict[str, str] | None = None,
        where: str = "",
        params: dict[str, Any] | None = None,
    ) -> list[Row]:
        """Rows of `table` whose columns equal `equals`, carrying `tags`, matching `where`."""
        values: dict[str, Any] = {**(params or {}), **(equals or {})}
        sql = f"SELECT * FROM {table} WHERE 1=1"
        sql += "".join(f" AND {column} = :{column}" for column in equals or {})
        sql += _tag_filter(table, tags, values)
        sql += f" AND {where}" if where else ""
        rows = self._db.execute(sql + " ORDER BY rowid", values).fetchall()
        return [_decode(cls, row) for row in rows]

    def _one(self, table: str, cls: type[Row], **equals: str) -> Row | None:
        rows = self._select(table, cls, equals)
        return rows[0] if rows else None

    def _delete(self, table: str, **equals: str) -> None:
        where = " AND ".join(f"{column} = :{column}" for column in equals)
        self._db.execute(f"DELETE FROM {table} WHERE {where}", equals)

    def _exists(self, sql: str, params: dict[str, Any]) -> bool:
        return bool(self._db.execute(f"SELECT EXISTS ({sql})", params).fetchone()[0])

    # vNets

    def add_vnet(self, vnet: Vnet) -> None:
        self._insert("vnets", vnet)

    def vnet(self, flavor: str, region: str, vnet_id: str) -> Vnet | None:
        return self._one("vnets", Vnet, flavor=flavor, region=region, id=vnet_id)

    def vnet_by_name(self, flavor: str, region: str, name: str) -> Vnet | None:
        return self._one("vnets", Vnet, flavor=flavor, region=region, name=name)

    def vnets(self, flavor: str, region: str, tags: dict[str, str] | None) -> list[Vnet]:
        return self._select("vnets", Vnet, {"flavor": flavor, "region": region}, tags=tags)

    def delete_vnet(self, vnet_id: str) -> None:
        self._delete("vnets", id=vnet_id)

    # security groups

    def add_security_group(self, group: SecurityGroup) -> None:
        self._insert("security_groups", group)

    def security_group(self, flavor: str, region: str, group_id: str) -> SecurityGroup | None:
        return self._one(
            "security_groups", SecurityGroup, flavor=flavor, region=region, id=group_id
        )

    def security_group_by_name(self, flavor: str, region: str, name: str) -> SecurityGroup | None:
        return self._one("security_groups", SecurityGroup, flavor=flavor, region=region, name=name)

    def security_groups(
        self, flavor: str, region: str, tags: dict[str, str] | None
    ) -> list[SecurityGroup]:
        where = {"flavor": flavor, "region": region}
        return self._select("security_groups", SecurityGroup, where, tags=tags)

    def vnet_has_security_groups(self, vnet_id: str) -> bool:
        return self._exists("SELECT 1 FROM security_groups WHERE vnet_id = :v", {"v": vnet_id})

    def delete_security_group(self, group_id: str) -> None:
        self._delete("security_groups", id=group_id)

    # key pairs

    def add_key_pair(self, key: KeyPair) -> None:
        self._insert("key_pairs", key)

    def key_pair(self, flavor: str, region: str, name: str) -> KeyPair | None:
        return self._one("key_pairs", KeyPair, flavor=flavor, region=region, name=name)

    def key_pairs(self, flavor: str, region: str) -> list[KeyPair]:
        return self._select("key_pairs", KeyPair, {"flavor": flavor, "region": region})

    def delete_key_pair(self, flavor: str, region: str, name: str) -> None:
        self._delete("key_pairs", flavor=flavor, region=region, name=name)

    # VMs

    def add_vm(self, vm: Vm) -> None:
        self._insert("vms", vm)

    def save_vm_phase(self, vm: Vm) -> None:
        """Persist the VM's phase and addresses (everything else never changes)."""
        columns = (*_PHASE_COLUMNS, "public_ip", "private_ip")
        sets = ", ".join(f"{c} = :{c}" for c in columns)
        values = {c: getattr(vm, c) for c in columns}
        self._db.execute(f"UPDATE vms SET {sets} WHERE id = :id", {**values, "id": vm.id})

    def vm(self, flavor: str, region: str, vm_id: str) -> Vm | None:
        return self._one("vms", Vm, flavor=flavor, region=region, id=vm_id)

    def vms_by_ids(self, flavor: str, region: str, vm_ids: Sequence[str]) -> list[Vm]:
        """The VMs of `vm_ids` in (flavor, region) in one query (ids not found are left out),
        looked up by id (`+`: not by scanning the region's index)."""
        where = (
            "vms.id IN (SELECT value FROM json_each(:ids))"
            " AND +vms.flavor = :flavor AND +vms.region = :region"
        )
        params = {"ids": json.dumps(list(vm_ids)), "flavor": flavor, "region": region}
        return self._select("vms", Vm, where=where, params=params)

    def vms_by_tokens(self, flavor: str, region: str, tokens: Sequence[str]) -> list[Vm]:
        """The VMs created with `tokens` in (flavor, region), in one query (by vms_token)."""
        where = "client_token IN (SELECT value FROM json_each(:tokens)) AND client_token != ''"
        return self._select(
            "vms",
            Vm,
            {"flavor": flavor, "region": region},
            where=where,
            params={"tokens": json.dumps(list(tokens))},
        )

    def vms(
        self, columns: Mapping[str, str], tags: dict[str, str] | None, with_terminated: bool
    ) -> list[Vm]:
        """VMs with the given column values (e.g. flavor, region) and tags; settled terminated
        VMs only when `with_terminated`."""
        condition = "" if with_terminated else "vms.phase != 'terminated'"
        return self._select("vms", Vm, columns, tags=tags, where=condition)

    def vms_due(self, phases: Iterable[Phase], now: float) -> list[Vm]:
        """VMs in one of `phases` whose duration is over at `now`."""
        params: dict[str, Any] = {f"p{i}": phase.value for i, phase in enumerate(phases)}
        marks = ", ".join(f":{name}" for name in params)
        where = f"phase IN ({marks}) AND phase_started + phase_duration <= :now"
        return self._select("vms", Vm, where=where, params={**params, "now": now})

    def count_live_vms(self, flavor: str, region: str, now: float) -> int:
        sql = f"SELECT COUNT(*) FROM vms WHERE flavor = :f AND region = :r AND {LIVE}"
        count: int = self._db.execute(sql, {"f": flavor, "r": region, "now": now}).fetchone()[0]
        return count

    def public_ips_in_use(self, flavor: str, region: str, now: float) -> set[str]:
        sql = f"SELECT public_ip FROM vms WHERE flavor = :f AND region = :r AND {LIVE}"
        rows = self._db.execute(sql, {"f": flavor, "r": region, "now": now})
        return {ip for (ip,) in rows if ip}

    def private_ips_in_use(self, subnet_id: str, now: float) -> set[str]:
        sql = f"SELECT private_ip FROM vms WHERE subnet_id = :s AND {LIVE}"
        return {ip for (ip,) in self._db.execute(sql, {"s": subnet_id, "now": now}) if ip}

    def live_vm_using(
        self,
        now: float,
        *,
        vnet_id: str | None = None,
        security_group_id: str | None = None,
        key: tuple[str, str, str] | None = None,
    ) -> str | None:
        """Id of a live VM using the vNet, security group or key pair (flavor, region, name)."""
        if vnet_id is not None:
            sql, params = "vnet_id = :x", {"x": vnet_id}
        elif security_group_id is not None:
            sql = "EXISTS (SELECT 1 FROM json_each(vms.security_group_ids) WHERE value = :x)"
            params = {"x": security_group_id}
        elif key is not None:
            sql = "flavor = :f AND region = :r AND key_name = :k"
            params = dict(zip(("f", "r", "k"), key, strict=True))
        else:
            raise ValueError("name a vnet, security group or key pair")
        query = f"SELECT id FROM vms WHERE {sql} AND {LIVE} LIMIT 1"
        row = self._db.execute(query, {**params, "now": now}).fetchone()
        return None if row is None else str(row[0])

    # faults and timings

    def put_fault(self, fault: FaultSetting) -> None:
        self._upsert("faults", fault)

    def faults(self) -> list[FaultSetting]:
        return self._select("faults", FaultSetting)

    def put_timing(self, timing: TimingOverride) -> None:
        self._upsert("timings", timing)

    def timings(self) -> list[TimingOverride]:
        return self._select("timings", TimingOverride)

    def clear(self, *tables: str) -> None:
        """Delete every row of `tables` (all tables when none is named)."""
        for table in tables or _TABLES:
            if table not in _TABLES:
                raise ValueError(f"unknown table {table!r}")
            self._db.execute(f"DELETE FROM {table}")

    def counts(self) -> Counts:
        counts = Counts()
        rows = self._db.execute(
            "SELECT flavor, region, phase, COUNT(*) FROM vms GROUP BY flavor, region, phase"
        )
        for flavor, region, phase, n in rows:
            counts.vms.setdefault(flavor, {}).setdefault(region, {})[phase] = n
        for name in ("vnets", "security_groups", "key_pairs"):
            setattr(counts, name, self._db.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0])
        return counts
