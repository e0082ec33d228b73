"""docker-compose.yml, Dockerfile and .dockerignore, checked without a Docker engine: the services
and images of a Temporal cluster on PostgreSQL, the start-up order, a scalable worker that takes
every setting mcis reads, and `Settings` built from its environment point at the services."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import make_url

import settings as settings_module
from settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"

NOT_FOR_THE_WORKER = {
    "MCIS_TEMPORAL_UI_PORT": "the embedded dev server's UI (the cluster has temporal-ui)",
    "MCIS_LOCALCLOUD_TIME_SCALE": "read by the local cloud service, which sets it",
    "MCIS_LOCALCLOUD_BACKEND": "read by the local cloud service, which sets it",
    **{
        name: "read by the API service, which sets it"
        for name in (
            "MCIS_API_BIND",
            "MCIS_API_PORT",
            "MCIS_SPIDER_PORT",
            "MCIS_API_USERNAME",
            "MCIS_API_PASSWORD",
        )
    },
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's `${NAME}`, `${NAME:-default}`, `${NAME:?error}` ($$ is a literal $)."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.group(1), match.group(2), match.group(3) or ""
        if env.get(name):
            return env[name]
        if kind == "?":
            raise KeyError(f"{name}: {rest}")
        return rest if kind == "-" else ""

    return _VARIABLE.sub(one, value.replace("$$", "\0")).replace("\0", "$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def documented_settings() -> set[str]:
    """The variables of settings.py's table, checked against what load_settings reads."""
    doc = settings_module.__doc__ or ""
    table = set(re.findall(r"^\| ((?:MCIS|TEMPORAL)_\w+) \|", doc, re.MULTILINE))
    source = Path(settings_module.__file__).read_text()
    read = set(re.findall(r"env(?:\.get\(|, )\"((?:MCIS|TEMPORAL)_\w+)\"", source))
    assert read <= table, f"read by load_settings but not documented: {sorted(read - table)}"
    return table


def test_compose_has_a_temporal_cluster_on_postgresql(compose: dict[str, Any]) -> None:
    services = compose["services"]
    images = {name: str(s.get("image", "")) for name, s in services.items()}
    assert images["postgresql"].startswith("postgres:") and images["postgresql"].endswith(":-16}")
    assert images["temporal-admin-tools"].startswith("temporalio/admin-tools:")
    assert images["temporal"].startswith("temporalio/server:")
    assert images["temporal-ui"].startswith("temporalio/ui:")
    for name in ("temporal-admin-tools", "temporal"):
        env = environment(services[name])
        assert (env["DB"], env["POSTGRES_SEEDS"], env["DB_PORT"]) == (
            "postgres12",
            "postgresql",
            "5432",
        )
    assert "setup-schema" in services["temporal-admin-tools"]["command"][0]
    assert "7233:7233" in interpolate(services["temporal"]["ports"][0], {})
    ui = services["temporal-ui"]
    assert environment(ui)["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert interpolate(ui["ports"][0], {}) == "8080:8080"
    setup = services["temporal-setup"]["command"][0]
    for attribute in ("McisNamespace", "McisName", "McisStatus"):
        assert attribute in setup


def test_compose_starts_services_in_order(compose: dict[str, Any]) -> None:
    def needs(name: str) -> dict[str, str]:
        depends = compose["services"][name].get("depends_on", {})
        return {k: v["condition"] for k, v in depends.items()}

    assert needs("temporal-admin-tools") == {"postgresql": "service_healthy"}
    assert needs("temporal") == {"temporal-admin-tools": "service_completed_successfully"}
    assert needs("temporal-setup") == {"temporal": "service_healthy"}
    assert needs("temporal-ui") == {"temporal": "service_healthy"}
    assert needs("mcis-db") == {"postgresql": "service_healthy"}
    assert needs("worker") == {
        "temporal-setup": "service_completed_successfully",
        "mcis-db": "service_completed_successfully",
        "localcloud": "service_healthy",
    }
    assert "CREATE DATABASE mcis" in compose["services"]["mcis-db"]["command"][0]


def test_compose_worker_scales_and_takes_every_setting(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["build"] == "."
    assert worker["stop_signal"] == "SIGTERM"
    env = environment(worker)
    wanted = documented_settings() - set(NOT_FOR_THE_WORKER)
    assert sorted(wanted - set(env)) == []
    local = environment(compose["services"]["localcloud"])
    assert {"MCIS_LOCALCLOUD_TIME_SCALE", "MCIS_LOCALCLOUD_BACKEND"} <= set(local)
    api = environment(compose["services"]["api"])
    assert {"MCIS_API_BIND", "MCIS_API_PASSWORD", "MCIS_SPIDER_PORT"} <= set(api)
    assert interpolate(local["MCIS_LOCALCLOUD_BACKEND"], {}) == "phantom"
    assert worker["secrets"] == ["mcis_credentials"]
    assert env["MCIS_CREDENTIALS_FILE"] == "/run/secrets/mcis_credentials"
    with pytest.raises(KeyError, match="MCIS_SECRET_KEY"):
        interpolate(env, {})  # no worker without the shared secret key


def test_compose_worker_settings_point_at_the_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    env = interpolate(environment(services["worker"]), {"MCIS_SECRET_KEY": "k" * 44})
    settings = load_settings(env)

    assert settings.temporal_host_port == ("temporal", 7233)
    assert settings.temporal_namespace == "default" and settings.task_queue == "mcis"
    database = make_url(settings.database_url)
    assert (database.drivername, database.host, database.port, database.database) == (
        "postgresql+psycopg",
        "postgresql",
        5432,
        "mcis",
    )
    postgres = interpolate(environment(services["postgresql"]), {})
    assert (database.username, database.password) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
    )
    host, port = settings.localcloud_host_port
    assert host == "localcloud" and host in services
    assert str(port) in services["localcloud"]["command"]
    assert settings.connections_file == Path("/run/secrets/mcis_credentials")
    assert settings.localcloud_enabled and settings.graceful_shutdown_s == 20.0
    assert settings.worker_ready_file == Path("/tmp/mcis-worker.ready")
    assert str(settings.worker_ready_file) in services["worker"]["healthcheck"]["test"]
    assert int(interpolate("${MCIS_MAX_CONCURRENT_ACTIVITIES:-200}", {})) == (
        settings.max_concurrent_activities
    )


def test_compose_dockerfile_runs_the_worker() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    entrypoint = re.findall(r"^ENTRYPOINT (.+)$", dockerfile, re.MULTILINE)
    assert entrypoint == ['["python", "-m", "worker"]']
    assert "pip install" in dockerfile and re.search(r"^USER \w+", dockerfile, re.MULTILINE)
    ignored = (ROOT / ".dockerignore").read_text().split()
    for private in (".venv", ".git", ".env", "credentials.yaml", "secret.key", "*.db"):
        assert private in ignored


def test_the_image_carries_the_dashboards_country_shapes_as_make_install_fetches_them() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    makefile = (ROOT / "Makefile").read_text()
    digest = re.search(r"^WORLD_ATLAS_SHA256 := (\w+)$", makefile, re.MULTILINE)
    assert digest and f"{digest.group(1)}  countries-110m.json" in dockerfile
    assert "COPY --from=world-atlas /atlas/ api/dashboard/static/vendor/world-atlas/" in dockerfile


def test_compose_interpolation_helper() -> None:
    assert interpolate("${A:-x}/${B}/$${C}", {"B": "b"}) == "x/b/${C}"
    assert interpolate({"k": ["${A:-1}"]}, {"A": "2"}) == {"k": ["2"]}
