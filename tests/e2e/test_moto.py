"""A real EC2 API end to end: moto's server on loopback behind a connection `ec2` (cloud aws,
endpoint = a small proxy in front of moto), a private stack, everything through the `mcis` CLI:
catalog from EC2 with Libcloud's prices, a 4-VM MCIS with AWS native states through suspend,
resume, terminate and delete (nothing left at moto), and the worker killed with -9 while moto's
answer to a batch's RunInstances is held back (its instances made, none tagged as its VM yet):
after a restart, exactly the requested instances exist, each tagged as its VM."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import httpx
import pytest

from starter import processes
from starter.stack import isolated_env
from tests.conftest import venv_binary
from tests.e2e.conftest import E2E, running_stack
from tests.e2e.test_worker_crash import wait_until

pytestmark = pytest.mark.e2e

REGION = "us-east-1"
SPEC = "ec2+us-east-1+t3.micro"
NS = "moto"
KEY_ID, SECRET = "testing-key-id", "testing-secret"
GONE = ("terminated", "shutting-down")


class DelayingProxy:
    """Forwards every request to moto; holds the answer to RunInstances for `delay` seconds
    after moto made the instance (the window where a crash loses the answer)."""

    def __init__(self, upstream_port: int) -> None:
        self.delay = 0.0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                upstream.request(self.command, self.path, body, headers)
                answer = upstream.getresponse()
                data = answer.read()
                if b"Action=RunInstances" in body and proxy.delay:
                    time.sleep(proxy.delay)
                with contextlib.suppress(OSError):
                    self.send_response(answer.status)
                    for key, value in answer.getheaders():
                        if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_POST = do_PUT = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Moto:
    url: str
    proxy: DelayingProxy

    def ec2(self) -> Any:
        return boto3.client(
            "ec2",
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
        )

    def instances(self, **tags: str) -> list[dict[str, Any]]:
        filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in tags.items()]
        found = []
        for page in self.ec2().get_paginator("describe_instances").paginate(Filters=filters):
            for reservation in page["Reservations"]:
                found += reservation["Instances"]
        return found

    def live(self, **tags: str) -> list[dict[str, Any]]:
        return [i for i in self.instances(**tags) if i["State"]["Name"] not in GONE]


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    port = processes.free_port()
    server = subprocess.Popen(
        [venv_binary("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    proxy = None
    try:
        url = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            try:
                return httpx.get(f"{url}/moto-api/", timeout=1, trust_env=False).status_code < 500
            except httpx.HTTPError:
                return False

        wait_until(answers, 30, "moto_server to answer")
        proxy = DelayingProxy(port)
        yield Moto(url, proxy)
    finally:
        if proxy is not None:
            proxy.close()
        processes.terminate(server.pid, 10)


@pytest.fixture(scope="module")
def e2e(moto: Moto, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    home = tmp_path_factory.mktemp("mcis-moto")
    env = {
        **os.environ,
        **isolated_env(home, "mcis-moto", 0.02),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    added = subprocess.run(
        [
            *(sys.executable, "-m", "starter", "connection", "add", "ec2", "--cloud", "aws"),
            *("--region", REGION, "--access-key-id", KEY_ID, "--secret-stdin"),
            *("--endpoint", moto.proxy.url),
        ],
        env=env,
        input=SECRET + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    with running_stack(env) as e2e:
        yield e2e


def image_id(e2e: E2E) -> str:
    images = e2e.json("catalog", "images", "--provider", "ec2", "--region", REGION)
    return str(next(i for i in images if i["os"] == "amazon-linux-2023")["id"])


def tag(instance: dict[str, Any], key: str) -> str | None:
    return next((t["Value"] for t in instance.get("Tags", []) if t["Key"] == key), None)


def timed(e2e: E2E, *args: str) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    status = e2e.json(*args, timeout=300)
    return status, time.monotonic() - started


def test_moto_catalog_and_a_4_vm_lifecycle_with_aws_native_states(e2e: E2E, moto: Moto) -> None:
    checked = e2e.ok("connection", "check", "ec2")
    assert checked.startswith("ec2: ok (aws): us-east-1 (") and "specs" in checked
    listed = e2e.json("connection", "list")
    assert listed[0]["name"] == "ec2" and SECRET not in str(listed)
    e2e.ok("ns", "create", NS)

    specs = e2e.json("catalog", "specs", "--provider", "ec2")
    by_id = {s["id"]: s for s in specs}
    assert len(by_id) > 300 and {s["region"] for s in specs} == {REGION}
    assert (by_id[SPEC]["vcpus"], by_id[SPEC]["memory_gib"]) == (2, 1)
    assert by_id[SPEC]["price_per_hour"] == pytest.approx(0.0104)
    image = image_id(e2e)

    status, create_s = timed(e2e, "create", NS, "web", "--group", f"{SPEC},{image},4")
    assert status["status"] == "Running" and status["counts"] == {"Running": 4}
    assert {(vm["provider"], vm["native_status"]) for vm in status["vms"]} == {("ec2", "running")}
    uid = status["uid"]
    at_moto = moto.instances(**{"mcis-uid": uid})
    assert sorted(i["InstanceId"] for i in at_moto) == sorted(vm["csp_id"] for vm in status["vms"])
    assert {(i["State"]["Name"], i["InstanceType"]) for i in at_moto} == {("running", "t3.micro")}
    # One RunInstances of 4 (one batch token), each VM tagged with its own client token.
    assert len({i["ClientToken"] for i in at_moto}) == 1
    assert len({tag(i, "mcis-client-token") for i in at_moto}) == 4
    names = {i["InstanceId"]: tag(i, "Name") for i in at_moto}
    assert names == {vm["csp_id"]: f"{NS}-web-{vm['id']}" for vm in status["vms"]}

    status, suspend_s = timed(e2e, "suspend", NS, "web")
    assert status["counts"] == {"Suspended": 4}
    assert {vm["native_status"] for vm in status["vms"]} == {"stopped"}
    assert {i["State"]["Name"] for i in moto.instances(**{"mcis-uid": uid})} == {"stopped"}

    status, resume_s = timed(e2e, "resume", NS, "web")
    assert status["counts"] == {"Running": 4}
    assert {i["State"]["Name"] for i in moto.instances(**{"mcis-uid": uid})} == {"running"}

    status, terminate_s = timed(e2e, "terminate", NS, "web")
    assert status["counts"] == {"Terminated": 4}
    assert moto.live(**{"mcis-uid": uid}) == []

    started = time.monotonic()
    e2e.ok("delete", NS, "web", timeout=300)
    delete_s = time.monotonic() - started
    assert e2e.json("list", NS) == []
    ec2 = moto.ec2()
    assert moto.live(**{"mcis-namespace": NS}) == []
    name = f"{NS}-shared-ec2-{REGION}"
    assert ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [name]}])["Vpcs"] == []
    assert [k for k in ec2.describe_key_pairs()["KeyPairs"] if k["KeyName"] == name] == []
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])
    assert groups["SecurityGroups"] == []
    print(
        f"\nmoto 4 VMs: create {create_s:.1f} s, suspend {suspend_s:.1f} s, "
        f"resume {resume_s:.1f} s, terminate {terminate_s:.1f} s, delete {delete_s:.1f} s"
    )


def test_moto_worker_killed_mid_create_leaves_no_duplicate(e2e: E2E, moto: Moto) -> None:
    e2e.run("ns", "create", NS)  # may exist from the test before
    image = image_id(e2e)
    # moto makes the batch's instances (tagged with what they share, mcis-name among it),
    # its answer waits 4 s: the worker dies before any VM's own tags are set.
    moto.proxy.delay = 4.0
    try:
        e2e.ok("create", NS, "crash", "--group", f"{SPEC},{image},8", "--no-wait")
        wait_until(
            lambda: len(moto.instances(**{"mcis-name": "crash"})) >= 4, 60, "instances at moto"
        )
        e2e.stack.kill_component("worker", signal.SIGKILL)
        made = moto.instances(**{"mcis-name": "crash"})
        assert len(made) == 8 and {tag(i, "mcis-client-token") for i in made} == {None}
    finally:
        moto.proxy.delay = 0.0
    killed_at = time.monotonic()
    e2e.stack.start_component("worker")

    def created() -> bool:
        return bool(e2e.json("status", NS, "crash")["phase"] != "creating")

    wait_until(created, 180, "the create to finish after the restart")
    recovery_s = time.monotonic() - killed_at
    status = e2e.json("status", NS, "crash")
    assert status["status"] == "Running" and status["counts"] == {"Running": 8}
    at_moto = moto.instances(**{"mcis-name": "crash", "mcis-namespace": NS})
    assert len(at_moto) == 8, [i["Tags"] for i in at_moto]
    assert len({tag(i, "mcis-client-token") for i in at_moto}) == 8
    assert sorted(i["InstanceId"] for i in at_moto) == sorted(vm["csp_id"] for vm in status["vms"])
    print(f"\nmoto worker killed mid-create: 8/8 running {recovery_s:.1f} s after the kill")
    e2e.ok("delete", NS, "crash", timeout=300)
    assert moto.live(**{"mcis-name": "crash"}) == []
