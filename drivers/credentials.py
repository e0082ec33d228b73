"""The credentials file of the cloud connections: `MCIS_HOME/credentials.yaml` (or
`MCIS_CREDENTIALS_FILE`), written with mode 0600 by `mcis connection add`, one entry per
connection (the format: drivers/connection.py):

    connections:
      - name: ec2
        cloud: aws
        ...

Loading names the file and the entry of any problem (`ConnectionsError`, never quoting a
credential); a file readable by others is loaded with a warning.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

import yaml

from drivers.connection import Connection, ConnectionsError, parse_connection

log = logging.getLogger("mcis.connections")


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
