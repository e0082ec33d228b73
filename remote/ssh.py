"""One SSH command on one VM: a fabric connection (paramiko underneath) with TCP_NODELAY on the
socket (paramiko does not set it: every exec would stall ~40 ms), the host key checked against
the one recorded on first contact (trust on first use), the private key only in memory; the
command run on a channel of it by remote/channel.py, with a timeout; the connection kept for
the next command on the same VM (remote/sessions.py)."""

from __future__ import annotations

import base64
import io
import shlex
import socket
import time
from collections.abc import Mapping
from typing import Protocol

import paramiko
from fabric import Config, Connection

from models.remote import MAX_OUTPUT_CHARS, RemoteResult, VmTarget, clip
from remote.channel import CommandTimeout, Stream, execute
from remote.sessions import SessionKey, SessionPool

CONNECT_TIMEOUT_S = 30.0  # the reference's SSH connect timeout
PROBE_TIMEOUT_S = 5.0  # a kept connection that does not open a channel in this time is dropped
KEEP_BYTES = 4 * MAX_OUTPUT_CHARS  # per stream: at least MAX_OUTPUT_CHARS characters of UTF-8


class HostKeys(Protocol):
    def get_host_key(self, ref: str) -> str | None: ...

    def put_host_key(self, ref: str, key: str) -> None: ...


class RemoteError(Exception):
    """The VM could not be reached or did not answer as it should; the message says why."""


class HostKeyMismatchError(RemoteError):
    """The VM presented another host key than the one recorded on first contact."""


def fingerprint(key: paramiko.PKey) -> str:
    return str(key.fingerprint)


def _recorded_key(line: str) -> paramiko.PKey:
    key_type, _, data = line.partition(" ")
    return paramiko.PKey.from_type_string(key_type, base64.b64decode(data))


def _private_key(pem: str) -> paramiko.PKey:
    for key_class in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            key: paramiko.PKey = key_class.from_private_key(io.StringIO(pem))
        except paramiko.SSHException:
            continue
        return key
    raise RemoteError("the SSH key is not an ed25519, ECDSA or RSA private key")


def _host_key_line(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"


class _RecordOnFirstUse(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]  # untyped base
    def __init__(self, target: VmTarget, host_keys: HostKeys) -> None:
        self._target, self._host_keys = target, host_keys

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        self._host_keys.put_host_key(self._target.host_key_ref, _host_key_line(key))


def _connection(target: VmTarget, private_key: str, host_keys: HostKeys) -> Connection:
    pkey = _private_key(private_key)
    try:
        sock = socket.create_connection((target.host, target.port), timeout=CONNECT_TIMEOUT_S)
    except OSError as exc:
        raise RemoteError(
            f"cannot reach {target.vm} at {target.host}:{target.port}: {exc}"
        ) from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    connection = Connection(
        target.host,
        user=target.user,
        port=target.port,
        config=Config(overrides={"load_ssh_configs": False}),
        connect_timeout=CONNECT_TIMEOUT_S,
        connect_kwargs={"sock": sock, "pkey": pkey, "look_for_keys": False, "allow_agent": False},
    )
    client = connection.client
    client.get_host_keys().clear()
    recorded = host_keys.get_host_key(target.host_key_ref)
    if recorded is None:
        client.set_missing_host_key_policy(_RecordOnFirstUse(target, host_keys))
    else:
        name = target.host if target.port == 22 else f"[{target.host}]:{target.port}"
        expected = _recorded_key(recorded)
        client.get_host_keys().add(name, expected.get_name(), expected)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        connection.open()
    except paramiko.BadHostKeyException as exc:
        sock.close()
        raise HostKeyMismatchError(
            f"host key of {target.vm} ({target.host}) changed: recorded "
            f"{fingerprint(exc.expected_key)}, presented {fingerprint(exc.key)}; if the VM was "
            "rebuilt, forget the old key (`mcis access NS NAME --forget-host-keys`)"
        ) from None
    except (paramiko.SSHException, OSError) as exc:
        sock.close()
        raise RemoteError(f"SSH to {target.vm} at {target.host} failed: {exc}") from None
    return connection


def with_environment(command: str, env: Mapping[str, str]) -> str:
    """`command` preceded by exported variables, each value shell-quoted (no injection)."""
    exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in sorted(env.items()))
    return f"export {exports}; {command}" if exports else command


def _kept(
    sessions: SessionPool, target: VmTarget, host_keys: HostKeys, key: SessionKey
) -> tuple[Connection, paramiko.Channel] | None:
    """A kept connection to this VM that still matches its recorded host key (a forgotten key
    is recorded again) and still answers, with a channel open on it (opening it is the probe:
    nothing has been sent to the VM yet), or None: then a new connection is made."""
    connection = sessions.take(key)
    if connection is None:
        return None
    transport = connection.client.get_transport()
    seen = _host_key_line(transport.get_remote_server_key())
    recorded = host_keys.get_host_key(target.host_key_ref)
    if recorded is not None and recorded != seen:
        connection.close()  # a new connection reports the mismatch
        return None
    try:
        channel = transport.open_session(timeout=PROBE_TIMEOUT_S)
    except (paramiko.SSHException, OSError, EOFError):
        connection.close()
        return None
    if recorded is None:
        host_keys.put_host_key(target.host_key_ref, seen)
    return connection, channel


def _steps(command: str | None, upload: tuple[bytes, str] | None) -> list[tuple[str, bytes, bool]]:
    """(command line, its stdin, whether it is the upload) to run in turn: the upload's `cat`,
    then the command."""
    steps = []
    if upload is not None:
        content, path = upload
        quoted = shlex.quote(path)
        steps.append((f'mkdir -p "$(dirname {quoted})" && cat > {quoted}', content, True))
    if command is not None:
        steps.append((command, b"", False))
    return steps


def run(
    target: VmTarget,
    private_key: str,
    host_keys: HostKeys,
    command: str | None,
    timeout_s: float,
    upload: tuple[bytes, str] | None = None,
    sessions: SessionPool | None = None,
) -> RemoteResult:
    """Put `upload` = (content, remote path) if given, then run `command` if given. With
    `sessions`, on a kept connection to the VM if there is one, and the connection is kept
    afterwards unless the command timed out or the session broke."""
    started = time.monotonic()

    def result(**fields: object) -> RemoteResult:
        return RemoteResult.model_validate(
            {"vm": target.vm, "duration_s": round(time.monotonic() - started, 4), **fields}
        )

    key = SessionKey.of(target, private_key)
    kept = None if sessions is None else _kept(sessions, target, host_keys, key)
    channel: paramiko.Channel | None = None
    if kept is not None:
        connection, channel = kept
    else:
        try:
            connection = _connection(target, private_key, host_keys)
        except RemoteError as exc:
            return result(exit_code=None, error=str(exc))
    keep = False
    try:
        done = None
        for line, stdin, is_upload in _steps(command, upload):
            if channel is None:
                channel = connection.client.get_transport().open_session(timeout=CONNECT_TIMEOUT_S)
            done = execute(channel, line, stdin, timeout_s, KEEP_BYTES)
            channel = None
            if is_upload and done.exit_code != 0:
                keep = True
                return result(
                    exit_code=done.exit_code, **_kept_output(stderr=done.stderr), error="put failed"
                )
        keep = True
        if done is None or command is None:
            return result(exit_code=0)
        return result(
            exit_code=done.exit_code, **_kept_output(stdout=done.stdout, stderr=done.stderr)
        )
    except CommandTimeout:
        return result(exit_code=None, error=f"timed out after {timeout_s:g}s")
    except (paramiko.SSHException, OSError, EOFError) as exc:
        return result(exit_code=None, error=f"SSH session to {target.vm} broke: {exc}")
    finally:
        if channel is not None:
            channel.close()
        if keep and sessions is not None:
            sessions.give(key, connection)
        else:
            connection.close()


def _kept_output(**streams: Stream) -> dict[str, object]:
    """Each stream's kept text (cut to MAX_OUTPUT_CHARS, marked) and the bytes it gave."""
    fields: dict[str, object] = {}
    for name, stream in streams.items():
        fields[name] = clip(stream.text(), stream.dropped)
        fields[f"{name}_bytes"] = stream.size
    return fields
