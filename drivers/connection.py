"""A cloud connection: one real cloud account (or its emulator) next to the local cloud, as
one entry of the credentials file (drivers/credentials.py) describes it:

    - name: ec2                # a valid mcis name, the provider of ids: ec2+us-east-1+t3.micro
      cloud: aws               # aws | gcp | azure | openstack | alibaba
      regions: [us-east-1]     # the regions mcis uses (`region: us-east-1` works too)
      credentials:             # per cloud: CREDENTIAL_FIELDS
        access_key_id: AKIA...
        secret_access_key: ...
      endpoint:                # optional, for emulators: url, or host/port/secure
        url: http://127.0.0.1:5000
      options: {}              # optional per-cloud settings (OPTION_FIELDS)
      locations:               # optional: where a region is (a private cloud's sites)
        RegionOne: {display_name: Daejeon, latitude: 36.35, longitude: 127.38}

A region's place comes from `locations` when the connection gives it, else from the cloud's
public region table (`catalog.regions`); a private cloud's region without one has no known
place (its driver does not list it among its regions' coordinates, see drivers/base.py).

Credentials stay in the file and in the driver objects: every value is a `SecretStr` (repr and
JSON show `**********`), error messages never quote them, workflows only carry connection names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from models.naming import InvalidNameError, check_name

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


class Location(BaseModel):
    """Where a region of a connection is (a private cloud's site has no public table)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    display_name: str = ""
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class Connection(BaseModel):
    """One cloud account: its name in mcis, its cloud, the regions it uses, its credentials."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    cloud: CloudKind
    regions: tuple[str, ...]
    credentials: dict[str, SecretStr]
    endpoint: Endpoint | None = None
    options: dict[str, str] = {}
    locations: dict[str, Location] = {}

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
        elsewhere = sorted(set(self.locations) - set(self.regions))
        if elsewhere:
            raise ValueError(f"location of {elsewhere[0]!r}, which is not one of the regions")
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
            "locations": {r: place.model_dump() for r, place in self.locations.items()},
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
        if self.locations:
            entry["locations"] = {r: place.model_dump() for r, place in self.locations.items()}
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
