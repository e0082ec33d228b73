"""The credentials file: format, validation messages that never quote a secret, mode 0600, the
drivers built from it next to the local cloud, and the `mcis connection` commands."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from drivers.aws import AwsDriver
from drivers.connection import ConnectionsError, parse_connection
from drivers.credentials import load_connections, save_connections
from drivers.localcloud import LocalCloudDriver
from drivers.openstack import OpenStackDriver
from drivers.registry import cloud_drivers
from settings import load_settings

SECRET = "wJalrXUtnFEMI-very-secret-K7MDENG"


def aws_entry(name: str = "ec2", **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "cloud": "aws",
        "region": "us-east-1",
        "credentials": {"access_key_id": "AKIDEXAMPLE", "secret_access_key": SECRET},
        **extra,
    }


def write(path: Path, entries: list[dict[str, object]]) -> None:
    path.write_text(yaml.safe_dump({"connections": entries}))
    path.chmod(0o600)


def test_a_connection_hides_its_credentials_everywhere() -> None:
    connection = parse_connection(aws_entry(endpoint={"url": "http://127.0.0.1:5000/"}))

    assert connection.regions == ("us-east-1",)
    assert connection.secret("secret_access_key") == SECRET
    assert connection.endpoint_url == "http://127.0.0.1:5000"
    for text in (
        repr(connection),
        str(connection),
        connection.model_dump_json(),
        json.dumps(connection.public_view()),
    ):
        assert SECRET not in text and "AKIDEXAMPLE" not in text
    assert connection.public_view() == {
        "name": "ec2",
        "cloud": "aws",
        "regions": ["us-east-1"],
        "endpoint": "http://127.0.0.1:5000",
        "credentials": ["access_key_id", "secret_access_key"],
        "options": {},
        "locations": {},
    }
    driver = AwsDriver.from_connection(connection)
    assert SECRET not in repr(driver) and "AKIDEXAMPLE" not in repr(driver)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "EC2"}, "connection name 'EC2' is invalid"),
        ({"cloud": "ibm"}, "cloud: Input should be"),
        ({"region": []}, "give at least one region"),
        ({"region": "us+east"}, "may not contain"),
        ({"credentials": {"access_key_id": "AKID"}}, "missing credential secret_access_key"),
        (
            {"credentials": {"access_key_id": "A", "secret_access_key": SECRET, "pw": SECRET}},
            "unknown credential 'pw' for cloud aws",
        ),
        ({"options": {"zone": "b"}}, "unknown option 'zone' for cloud aws (known: none)"),
        ({"endpoint": {"port": 5000}}, "endpoint needs url or host"),
        (
            {"locations": {"eu-west-1": {"latitude": 53.3, "longitude": -6.3}}},
            "location of 'eu-west-1', which is not one of the regions",
        ),
        (
            {"locations": {"us-east-1": {"latitude": 153.3, "longitude": -6.3}}},
            "locations.us-east-1.latitude: Input should be less than or equal to 90",
        ),
    ],
)
def test_bad_entries_are_refused_with_one_line_and_no_secret(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(ConnectionsError) as error:
        parse_connection({**aws_entry(), **change}, "conn")
    assert message in str(error.value)
    assert SECRET not in str(error.value)
    assert "\n" not in str(error.value)


def test_save_then_load_round_trips_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "home" / "credentials.yaml"
    gcp = parse_connection(
        {
            "name": "my-gcp",
            "cloud": "gcp",
            "regions": ["us-central1", "europe-west1"],
            "credentials": {
                "service_account_email": "sa@p.iam.gserviceaccount.com",
                "key_file": "/keys/sa.json",
                "project": "p",
            },
            "options": {"zone": "b"},
        }
    )
    ec2 = parse_connection(aws_entry())
    lab = parse_connection(
        {
            "name": "lab",
            "cloud": "openstack",
            "region": "RegionOne",
            "credentials": {"auth_url": "u", "username": "u", "password": "p", "project_name": "p"},
            "locations": {
                "RegionOne": {"display_name": "Daejeon", "latitude": 36.35, "longitude": 127.38}
            },
        }
    )
    save_connections(path, {"ec2": ec2, "my-gcp": gcp, "lab": lab})

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_connections(path) == {"ec2": ec2, "my-gcp": gcp, "lab": lab}
    assert SECRET in path.read_text()  # the file is where the secret lives
    assert not list(path.parent.glob(".credentials-*"))


def test_loading_reports_the_file_and_entry(tmp_path: Path) -> None:
    path = tmp_path / "credentials.yaml"
    assert load_connections(path) == {}

    write(path, [aws_entry(), aws_entry()])
    with pytest.raises(ConnectionsError, match=r"connection 2 \('ec2'\): .* defined twice"):
        load_connections(path)

    path.write_text("connections: [")
    with pytest.raises(ConnectionsError, match="is not valid YAML"):
        load_connections(path)

    path.write_text("- just a list\n")
    with pytest.raises(ConnectionsError, match="must hold `connections:`"):
        load_connections(path)


def test_a_world_readable_file_is_loaded_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "credentials.yaml"
    write(path, [aws_entry()])
    path.chmod(0o644)
    assert list(load_connections(path)) == ["ec2"]
    assert "chmod 600" in caplog.text and SECRET not in caplog.text


def test_drivers_are_the_local_flavors_plus_the_connections(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    openstack: dict[str, object] = {
        "name": "lab",
        "cloud": "openstack",
        "region": "RegionOne",
        "credentials": {
            "auth_url": "http://keystone:5000",
            "username": "u",
            "password": SECRET,
            "project_name": "p",
        },
    }
    write(home / "credentials.yaml", [aws_entry(), openstack])
    settings = load_settings({"MCIS_HOME": str(home)})

    drivers = cloud_drivers(settings)

    assert sorted(drivers) == sorted(
        ["aws", "gcp", "azure", "alibaba", "openstack", "cloudit", "ec2", "lab"]
    )
    assert isinstance(drivers["aws"], LocalCloudDriver)
    assert isinstance(drivers["ec2"], AwsDriver) and drivers["ec2"].provider == "ec2"
    assert isinstance(drivers["lab"], OpenStackDriver) and drivers["lab"].provider == "lab"


def test_a_connection_may_not_shadow_a_local_flavor_unless_the_local_cloud_is_off(
    tmp_path: Path,
) -> None:
    path = tmp_path / "creds.yaml"
    write(path, [aws_entry("aws")])
    env = {"MCIS_HOME": str(tmp_path), "MCIS_CREDENTIALS_FILE": str(path)}

    with pytest.raises(ConnectionsError, match=r"'aws' .* local cloud flavor .* rename it"):
        cloud_drivers(load_settings(env))

    drivers = cloud_drivers(load_settings({**env, "MCIS_LOCALCLOUD_ENABLED": "false"}))
    assert list(drivers) == ["aws"] and isinstance(drivers["aws"], AwsDriver)


def mcis(home: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "starter", *args],
        env={"MCIS_HOME": str(home), "PATH": "/usr/bin:/bin", **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_connection_commands_keep_secrets_off_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    added = mcis(
        home,
        *("connection", "add", "ec2", "--cloud", "aws", "--region", "us-east-1"),
        *("--access-key-id", "AKIDEXAMPLE", "--secret-stdin"),
        *("--endpoint", "http://127.0.0.1:1"),
        stdin=SECRET + "\n",
    )
    assert added.returncode == 0, added.stderr
    assert SECRET not in added.stdout + added.stderr
    file = home / "credentials.yaml"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert load_connections(file)["ec2"].secret("secret_access_key") == SECRET

    from_env = mcis(
        home,
        *("connection", "add", "lab", "--cloud", "openstack", "--region", "RegionOne"),
        *("--credential", "auth_url=http://keystone:5000", "--credential", "username=u"),
        *("--credential", "project_name=p"),
        OS_PASSWORD=SECRET,
    )
    assert from_env.returncode == 0, from_env.stderr

    listed = mcis(home, "connection", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert SECRET not in listed.stdout and "AKIDEXAMPLE" not in listed.stdout
    assert [(c["name"], c["cloud"]) for c in json.loads(listed.stdout)] == [
        ("ec2", "aws"),
        ("lab", "openstack"),
    ]

    again = mcis(home, "connection", "add", "ec2", "--cloud", "aws", "--region", "us-east-1")
    assert again.returncode == 2
    assert "missing credential access_key_id" in again.stderr
    assert "AWS_SECRET_ACCESS_KEY" in again.stderr

    shadow = mcis(
        home,
        *("connection", "add", "aws", "--cloud", "aws", "--region", "us-east-1"),
        *("--access-key-id", "A", "--secret-access-key", "s"),
    )
    assert shadow.returncode == 2 and "local cloud flavor" in shadow.stderr

    unreachable = mcis(home, "connection", "check", "ec2")
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith("mcis: aws connection 'ec2' at http://127.0.0.1:1: ")
    assert "did not answer" in unreachable.stderr
    assert len(unreachable.stderr.strip().splitlines()) == 1
    assert SECRET not in unreachable.stderr

    removed = mcis(home, "connection", "remove", "lab")
    assert removed.returncode == 0, removed.stderr
    assert list(load_connections(file)) == ["ec2"]
