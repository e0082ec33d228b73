"""Cloud connections: real cloud accounts (or their emulators) next to the local cloud.

A connection is one entry of the credentials file `MCIS_HOME/credentials.yaml` (or
`MCIS_CREDENTIALS_FILE`), written with mode 0600 by `mcis connection add`:

    connections:
      - name: ec2                # a valid mcis name, the provider of ids: ec2+us-east-1+t3.micro
        cloud: aws               # aws | gcp | azure | openstack | alibaba
        regions: [us-east-1]     # the regions mcis uses (`region: us-east-1` works too)
        credentials:             # per cloud: CREDENTIAL_FIELDS
          access_key_id: AKIA...
          secret_access_key: ...
        endpoint:                # optional, for emulators: url, or host/port/secure
          url: http://127.0.0.1:5000
        options: {}              # optional per-cloud settings (OPTION_FIELDS)

`cloud_drivers(settings)` gives the drivers of a worker or a CLI: one per local cloud flavor (aws,
gcp, azure, alibaba, openstack, cloudit) unless `MCIS_LOCALCLOUD_ENABLED=false`, plus one per
connection, keyed by connection name. A connection may not take a local flavor's name while the
local cloud is enabled (`ConnectionsError` says so): `aws` would otherwise mean two clouds.

Credentials stay in this file and in the driver objects: every value is a `SecretStr` (repr and
JSON show `**********`), error messages never quote them, workflows only carry connection names.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from drivers.base import CloudDriver
from drivers.localcloud import local_drivers
from localcloud.flavors import FLAVORS
from models.naming import InvalidNameError, check_name
from settings import Settings

log = logging.getLogger("mcis.connections")

CloudKind = Literal["aws", "gcp", "azure", "openstack", "alibaba"]
CLOUDS: tuple[str, ...] = get_args(CloudKind)


@dataclass(frozen=True)
class CredentialField:
    name: str
    secret: bool = False
    required: bool = True
    env: str = ""
    """The environment variable `mcis connection add` reads the value from when not given."""
    help: str = ""


CREDENTIAL_FIELDS: dict[str, tuple[CredentialField, ...]] = {
    "aws": (
        CredentialField("access_key_id", env="AWS_ACCESS_KEY_ID"),
        CredentialField("secret_access_key", secret=True, env="AWS_SECRET_ACCESS_KEY"),
        CredentialField("session_token", secret=True, required=False, env="AWS_SESSION_TOKEN"),
    ),
    "gcp": (
        CredentialField("service_account_email", env="GCP_SERVICE_ACCOUNT_EMAIL"),
        CredentialField(
            "key_file", env="GOOGLE_APPLICATION_CREDENTIALS", help="service account JSON key file"
        ),
        CredentialField("project", env="GOOGLE_CLOUD_PROJECT"),
    ),
    "azure": (
        CredentialField("tenant_id", env="AZURE_TENANT_ID"),
        CredentialField("subscription_id", env="AZURE_SUBSCRIPTION_ID"),
        CredentialField("client_id", env="AZURE_CLIENT_ID"),
        CredentialField("client_secret", secret=True, env="AZURE_CLIENT_SECRET"),
    ),
    "openstack": (
        CredentialField("auth_url", env="OS_AUTH_URL"),
        CredentialField("username", env="OS_USERNAME"),
        CredentialField("password", secret=True, env="OS_PASSWORD"),
        CredentialField("project_name", env="OS_PROJECT_NAME"),
        CredentialField("domain_name", required=False, env="OS_USER_DOMAIN_NAME"),
    ),
    "alibaba": (
        CredentialField("access_key_id", env="ALIBABA_CLOUD_ACCESS_KEY_ID"),
        CredentialField("access_key_secret", secret=True, env="ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
    ),
}

OPTION_FIELDS: dict[str, tuple[str, ...]] = {
    "aws": (),
    "gcp": ("zone",),
    "azure": ("resource_group",),
    "openstack": ("auth_version", "floating_ip_pool"),
    "alibaba": ("zone",),
}
"""Per-cloud settings that are no secret (`options:` in the file, `--option` in the CLI)."""


class ConnectionsError(ValueError):
    """The credentials file or a connection in it is unusable; the message says why (and never
    quotes a credential)."""


class Endpoint(BaseModel):
    """Where the cloud's API answers, when it is not the cloud's public endpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = None
    host: str | None = None
    port: int | None = None
    secure: bool = True

    @model_validator(mode="after")
    def _url_or_host(self) -> Endpoint:
        if not self.url and not self.host:
            raise ValueError("endpoint needs url or host")
        return self

    def as_url(self) -> str:
        if self.url:
            return self.url.rstrip("/")
        scheme = "https" if self.secure else "http"
        port = f":{self.port}" if self.port else ""
        return f"{scheme}://{self.host}{port}"


class Connection(BaseModel):
    """One cloud account: its name in mcis, its cloud, the regions it uses, its credentials."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    cloud: CloudKind
    regions: tuple[str, ...]
    credentials: dict[str, SecretStr]
    endpoint: Endpoint | None = None
    options: dict[str, str] = {}

    @model_validator(mode="before")
    @classmethod
    def _single_region(cls, data: Any) -> Any:
        if isinstance(data, dict) and "region" in data:
            data = dict(data)
            region = data.pop("region")
            if "regions" in data:
                raise ValueError("give either region or regions, not both")
            data["regions"] = [region] if isinstance(region, str) else region
        return data

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        try:
            return check_name(value, "connection name")
        except InvalidNameError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("regions")
    @classmethod
    def _some_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        regions = tuple(dict.fromkeys(r.strip() for r in value if r.strip()))
        if not regions:
            raise ValueError("give at least one region")
        bad = [r for r in regions if "+" in r or "," in r]
        if bad:
            raise ValueError(f"region {bad[0]!r} may not contain '+' or ','")
        return regions

    @model_validator(mode="after")
    def _fields_of_the_cloud(self) -> Connection:
        fields = CREDENTIAL_FIELDS[self.cloud]
        known = {f.name for f in fields}
        unknown = sorted(set(self.credentials) - known)
        if unknown:
            raise ValueError(
                f"unknown credential {unknown[0]!r} for cloud {self.cloud} "
                f"(known: {', '.join(sorted(known))})"
            )
        missing = [
            f.name
            for f in fields
            if f.required and not self.credentials.get(f.name, SecretStr("")).get_secret_value()
        ]
        if missing:
            raise ValueError(f"missing credential {', '.join(missing)} for cloud {self.cloud}")
        bad_options = sorted(set(self.options) - set(OPTION_FIELDS[self.cloud]))
        if bad_options:
            allowed = ", ".join(OPTION_FIELDS[self.cloud]) or "none"
            raise ValueError(
                f"unknown option {bad_options[0]!r} for cloud {self.cloud} (known: {allowed})"
            )
        return self

    def secret(self, key: str) -> str:
        """A credential's value ("" when not given)."""
        value = self.credentials.get(key)
        return "" if value is None else value.get_secret_value()

    @property
    def endpoint_url(self) -> str | None:
        return None if self.endpoint is None else self.endpoint.as_url()

    def public_view(self) -> dict[str, Any]:
        """What `mcis connection list` shows: everything but credential values."""
        return {
            "name": self.name,
            "cloud": self.cloud,
            "regions": list(self.regions),
            "endpoint": self.endpoint_url,
            "credentials": sorted(self.credentials),
            "options": dict(self.options),
        }

    def file_entry(self) -> dict[str, Any]:
        """The entry as written to the credentials file (with the credential values)."""
        entry: dict[str, Any] = {
            "name": self.name,
            "cloud": self.cloud,
            "regions": list(self.regions),
            "credentials": {k: v.get_secret_value() for k, v in self.credentials.items()},
        }
        if self.endpoint is not None:
            entry["endpoint"] = self.endpoint.model_dump(exclude_defaults=True)
        if self.options:
            entry["options"] = dict(self.options)
        return entry


def _error_text(exc: ValidationError) -> str:
    """The first problem of a validation error, without the input (which may be a secret)."""
    first = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def parse_connection(data: Mapping[str, Any], where: str = "connection") -> Connection:
    """A Connection from its file entry; ConnectionsError naming `where` otherwise."""
    try:
        return Connection.model_validate(dict(data))
    except ValidationError as exc:
        raise ConnectionsError(f"{where}: {_error_text(exc)}") from None


def load_connections(path: Path) -> dict[str, Connection]:
    """The connections of the credentials file by name; none if the file does not exist."""
    try:
        text = path.read_text()
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConnectionsError(f"cannot read credentials file {path}: {exc.strerror}") from None
    if mode & 0o077 and text.strip():
        log.warning("credentials file %s is readable by others (mode %o): chmod 600 it", path, mode)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConnectionsError(f"credentials file {path} is not valid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("connections", []), list | None):
        raise ConnectionsError(f"credentials file {path} must hold `connections:` with a list")
    connections: dict[str, Connection] = {}
    for index, entry in enumerate(data.get("connections") or [], start=1):
        label = entry.get("name") if isinstance(entry, dict) else None
        where = f"{path}: connection {index}" + (f" ({label!r})" if isinstance(label, str) else "")
        if not isinstance(entry, dict):
            raise ConnectionsError(f"{where}: expected a mapping")
        connection = parse_connection(entry, where)
        if connection.name in connections:
            raise ConnectionsError(f"{where}: connection {connection.name!r} is defined twice")
        connections[connection.name] = connection
    return connections


def save_connections(path: Path, connections: Mapping[str, Connection]) -> None:
    """Write the credentials file atomically with mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"connections": [c.file_entry() for c in connections.values()]}
    text = "# mcis cloud connections: keep this file private (mode 0600)\n" + yaml.safe_dump(
        body, sort_keys=False
    )
    handle, temp = tempfile.mkstemp(prefix=".credentials-", dir=path.parent)
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def shadowing_error(name: str, path: Path) -> ConnectionsError:
    return ConnectionsError(
        f"connection {name!r} in {path} has the name of a local cloud flavor "
        f"({', '.join(FLAVORS)}): rename it (e.g. {name}-prod) or set MCIS_LOCALCLOUD_ENABLED=false"
    )


def connection_driver(connection: Connection) -> CloudDriver:
    """The driver of one connection (no network call until it is used)."""
    if connection.cloud == "aws":
        from drivers.aws_ec2 import AwsEc2Driver

        return AwsEc2Driver.from_connection(connection)
    from drivers.libcloud_compute import LibcloudComputeDriver

    return LibcloudComputeDriver.from_connection(connection)


def cloud_drivers(settings: Settings) -> dict[str, CloudDriver]:
    """Every driver of a worker or a CLI, keyed by provider name: the local cloud's flavors (unless
    disabled) and the connections of the credentials file."""
    path = settings.connections_file
    connections = load_connections(path)
    drivers: dict[str, CloudDriver] = {}
    if settings.localcloud_enabled:
        for name in connections:
            if name in FLAVORS:
                raise shadowing_error(name, path)
        drivers.update(cast(dict[str, CloudDriver], local_drivers(settings.localcloud_url)))
    for name, connection in connections.items():
        drivers[name] = connection_driver(connection)
    return drivers
