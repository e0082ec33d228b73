"""Real VMs: the local cloud process with `--backend netns` (time scale 0.01), driven through
LocalCloudDriver, its VMs reached over SSH (paramiko) on the cloud's bridge. A VM answers SSH
the moment it is reported running, has its own hostname and process tree; pings between two
regions take the RTT of the matrix; CPU load shows in its own metrics only; suspend and resume
keep its host key and files; VMs outlive a kill -9 of the cloud; deleting everything leaves
nothing behind. Needs root and the commands of real VMs (skipped otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import paramiko
import pytest

from activities.ssh_keys import generate_private_key, public_key_of
from drivers.localcloud import LocalCloudDriver, local_drivers
from drivers.localcloud_admin import LocalCloudAdmin
from drivers.status_map import to_canonical
from localcloud.netns.cgroups import Cgroups
from localcloud.netns.choose import missing_requirements
from localcloud.netns.doctor import Doctor
from localcloud.netns.layout import Layout
from localcloud.netns.network import namespaces, routes_to_bridge
from localcloud.netns.proc import all_pids, command_line
from models.cloud import DEFAULT_RULES, CloudVm, SubnetSpec, VmAction, VmCreateRequest
from models.status import TargetAction, VmStatus
from starter.processes import free_port

REPO = Path(__file__).resolve().parents[2]
MISSING = missing_requirements()
pytestmark = [
    pytest.mark.realvm,
    pytest.mark.skipif(MISSING is not None, reason=f"real VMs need root and tools: {MISSING}"),
]

PAIR_RTT_MS = 40.0
RTT_FILE = f'{{"aws/us-east-1": {{"gcp/us-central1": {PAIR_RTT_MS}}}}}\n'
PRIVATE_KEY = generate_private_key()


class CloudProcess:
    """`python -m localcloud --backend netns` on a free port over one database file."""

    def __init__(self, directory: Path) -> None:
        self.db = directory / "cloud.db"
        self.rtt_file = directory / "rtt.yaml"
        self.rtt_file.write_text(RTT_FILE)
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = directory / "cloud.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        port = self.url.rsplit(":", 1)[1]
        args = ["--port", port, "--db", str(self.db), "--time-scale", "0.01"]
        args += ["--backend", "netns", "--rtt-file", str(self.rtt_file)]
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "localcloud", *args], cwd=REPO, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"local cloud exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).json()["backend"] == "netns":
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"local cloud at {self.url} did not become healthy")

    def kill(self) -> None:
        """kill -9, as a crash of the control plane."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGKILL)
        self._proc.wait()

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=20)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudProcess]:
    process = CloudProcess(tmp_path_factory.mktemp("netns-cloud"))
    try:
        process.start()
        yield process
    finally:
        # destroy whatever is left even when a test failed, then check in-process
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{process.url}/admin/reset", timeout=30)
        process.stop()
        Doctor(Layout.of(process.db), Cgroups.here()).clean(set())


@dataclass
class Site:
    driver: LocalCloudDriver
    region: str
    spec: str
    image: str
    vm: CloudVm | None = None

    @property
    def address(self) -> str:
        assert self.vm is not None and self.vm.public_ip is not None
        return self.vm.public_ip

    async def prepare(self) -> None:
        vnet = await self.driver.ensure_vnet(
            self.region, "net", "10.0.0.0/16", [SubnetSpec(name="main", cidr="10.0.1.0/24")], {}
        )
        group = await self.driver.ensure_security_group(
            self.region, "sg", vnet.csp_id, DEFAULT_RULES, {}
        )
        await self.driver.import_key_pair(self.region, "key", public_key_of(PRIVATE_KEY), {})
        self.vm = await self.driver.create_vm(
            self.region,
            VmCreateRequest(
                name=f"{self.driver.provider}-vm",
                spec=self.spec,
                image=self.image,
                vnet_csp_id=vnet.csp_id,
                subnet_csp_id=vnet.subnets["main"],
                security_group_csp_ids=[group.csp_id],
                key_name="key",
                client_token=f"{self.driver.provider}-token",
            ),
        )

    async def wait(self, status: VmStatus, action: TargetAction) -> CloudVm | None:
        assert self.vm is not None
        deadline = time.monotonic() + 15
        while True:
            vm = await self.driver.get_vm(self.region, self.vm.csp_id)
            native = None if vm is None else vm.native_status
            if to_canonical(self.driver.provider, native, action) is status:
                return vm
            assert time.monotonic() < deadline, f"{self.vm.csp_id} is {native}, not {status}"
            await asyncio.sleep(0.02)


class Ssh:
    """One SSH session to a VM as root, over a socket with TCP_NODELAY."""

    def __init__(self, address: str) -> None:
        assert routes_to_bridge(address), f"{address} is not behind the cloud's bridge"
        sock = socket.create_connection((address, 22), timeout=5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client = paramiko.SSHClient()
        self.client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        key = paramiko.Ed25519Key.from_private_key(io.StringIO(PRIVATE_KEY))
        self.client.connect(
            address, username="root", pkey=key, sock=sock, look_for_keys=False, allow_agent=False
        )

    @property
    def host_key(self) -> str:
        transport = self.client.get_transport()
        assert transport is not None
        return str(transport.get_remote_server_key().get_base64())

    def run(self, command: str) -> str:
        _, stdout, stderr = self.client.exec_command(command, timeout=20)
        out: str = stdout.read().decode()
        assert stdout.channel.recv_exit_status() == 0, f"{command}: {stderr.read().decode()}"
        return out

    def close(self) -> None:
        self.client.close()


def ssh_run(address: str, command: str) -> str:
    session = Ssh(address)
    try:
        return session.run(command)
    finally:
        session.close()


@pytest.fixture(scope="module")
async def sites(cloud: CloudProcess) -> AsyncIterator[dict[str, Site]]:
    drivers = local_drivers(cloud.url)
    found = {
        "aws": Site(drivers["aws"], "us-east-1", "t3.micro", "debian-12-amd64"),
        "gcp": Site(drivers["gcp"], "us-central1", "e2-small", "debian-12"),
    }
    try:
        for site in found.values():
            await site.prepare()
        for site in found.values():
            site.vm = await site.wait(VmStatus.RUNNING, TargetAction.CREATE)
            # reported running: it must answer now, not a moment later
            assert ssh_run(site.address, "echo up") == "up\n"
        yield found
    finally:
        await drivers["aws"].aclose()


def test_the_rtt_matrix_is_served_with_the_file_applied(cloud: CloudProcess) -> None:
    matrix = httpx.get(f"{cloud.url}/v1/latency").json()
    assert {"aws/us-east-1", "gcp/us-central1", "cloudit/busan-1"} <= set(matrix["regions"])
    assert matrix["rtt_ms"]["gcp/us-central1"]["aws/us-east-1"] == PAIR_RTT_MS
    assert matrix["rtt_ms"]["aws/us-east-1"]["gcp/us-central1"] == PAIR_RTT_MS
    assert matrix["rtt_ms"]["aws/us-east-1"]["aws/us-east-1"] == 2.0


def test_a_vm_has_its_own_hostname_and_process_tree(sites: dict[str, Site]) -> None:
    for name, site in sites.items():
        session = Ssh(site.address)
        try:
            assert session.run("hostname").strip() == f"{name}-vm"
            processes = session.run("ps -e -o pid=,comm=").split("\n")
            assert processes[0].split() == ["1", "sshd"]
            assert len(processes) < 10, processes  # the host runs far more
            assert "timeout:1" in session.run("cat /etc/resolv.conf")
            session.run("touch /usr/local/written-in-the-vm")
        finally:
            session.close()
    assert not Path("/usr/local/written-in-the-vm").exists()  # copy-on-write root


def test_pings_between_regions_take_the_matrix_rtt(sites: dict[str, Site]) -> None:
    out = ssh_run(sites["aws"].address, f"ping -c 8 -i 0.2 -q {sites['gcp'].address}")
    found = re.search(r"= [\d.]+/([\d.]+)/", out)
    assert found is not None, out
    assert float(found[1]) == pytest.approx(PAIR_RTT_MS, rel=0.2)


async def test_cpu_load_shows_in_the_vms_own_metrics(sites: dict[str, Site]) -> None:
    aws, gcp = sites["aws"], sites["gcp"]
    assert aws.vm is not None and gcp.vm is not None
    loop = "setsid -f sh -c 'while :; do :; done' >/dev/null 2>&1 </dev/null"
    ssh_run(aws.address, f"{loop}; {loop}")  # two busy threads for 2 vCPUs = half a core
    try:
        await asyncio.sleep(2.5)  # two samples of the monitor
        busy = await aws.driver.vm_metrics(aws.region, aws.vm.csp_id)
        idle = await gcp.driver.vm_metrics(gcp.region, gcp.vm.csp_id)
    finally:
        ssh_run(aws.address, "pkill -f 'while :'")
    assert 40 < busy.cpu_percent < 115, busy  # all of its allocation, and no more
    assert idle.cpu_percent < 20, idle
    assert 0 < busy.memory_mib < 100 and 0 < busy.memory_percent < 10
    assert busy.net_rx_bytes > 0 and busy.net_tx_bytes > 0


async def test_suspend_stops_ssh_and_resume_brings_back_the_same_vm(
    sites: dict[str, Site],
) -> None:
    gcp = sites["gcp"]
    assert gcp.vm is not None
    before = Ssh(gcp.address)
    host_key = before.host_key
    before.run("echo kept > /root/marker")
    before.close()
    await gcp.driver.suspend_vm(gcp.region, gcp.vm.csp_id)
    await gcp.wait(VmStatus.SUSPENDED, TargetAction.SUSPEND)
    with pytest.raises(OSError):
        socket.create_connection((gcp.address, 22), timeout=2).close()
    await gcp.driver.resume_vm(gcp.region, gcp.vm.csp_id)
    await gcp.wait(VmStatus.RUNNING, TargetAction.RESUME)
    after = Ssh(gcp.address)
    try:
        assert after.host_key == host_key
        assert after.run("cat /root/marker") == "kept\n"
    finally:
        after.close()


async def test_vms_outlive_a_crash_of_the_cloud(
    cloud: CloudProcess, sites: dict[str, Site]
) -> None:
    cloud.kill()
    for site in sites.values():
        assert ssh_run(site.address, "hostname").strip() == f"{site.driver.provider}-vm"
    cloud.start()
    for site in sites.values():
        assert await site.wait(VmStatus.RUNNING, TargetAction.NONE) is not None
        assert ssh_run(site.address, "echo still") == "still\n"


async def test_a_batch_starts_stops_and_destroys_each_real_vm(cloud: CloudProcess) -> None:
    driver = local_drivers(cloud.url)["azure"]
    region = "westeurope"
    try:
        vnet = await driver.ensure_vnet(
            region, "net", "10.0.0.0/16", [SubnetSpec(name="main", cidr="10.0.1.0/24")], {}
        )
        group = await driver.ensure_security_group(region, "sg", vnet.csp_id, DEFAULT_RULES, {})
        await driver.import_key_pair(region, "key", public_key_of(PRIVATE_KEY), {})
        requests = [
            VmCreateRequest(
                name=f"batch-{i}",
                spec="Standard_B1s",
                image="Debian12",
                vnet_csp_id=vnet.csp_id,
                subnet_csp_id=vnet.subnets["main"],
                security_group_csp_ids=[group.csp_id],
                key_name="key",
                client_token=f"batch-token-{i}",
            )
            for i in range(3)
        ]
        made = await driver.create_vms(region, requests)
        assert all(isinstance(vm, CloudVm) for vm in made), made
        ids = [vm.csp_id for vm in made if isinstance(vm, CloudVm)]

        async def settled(status: VmStatus, action: TargetAction) -> list[CloudVm | None]:
            deadline = time.monotonic() + 20
            while True:
                vms = [await driver.get_vm(region, vm_id) for vm_id in ids]
                natives = [None if vm is None else vm.native_status for vm in vms]
                if all(to_canonical("azure", n, action) is status for n in natives):
                    return vms
                assert time.monotonic() < deadline, f"{natives}, not all {status}"
                await asyncio.sleep(0.05)

        running = await settled(VmStatus.RUNNING, TargetAction.CREATE)
        for i, vm in enumerate(running):
            assert vm is not None and vm.public_ip is not None
            assert ssh_run(vm.public_ip, "hostname").strip() == f"batch-{i}"
        await driver.act_on_vms(region, VmAction.SUSPEND, ids)
        await settled(VmStatus.SUSPENDED, TargetAction.SUSPEND)
        for vm in running:
            assert vm is not None and vm.public_ip is not None
            with pytest.raises(OSError):
                socket.create_connection((vm.public_ip, 22), timeout=2).close()
        await driver.act_on_vms(region, VmAction.TERMINATE, ids)
        assert await settled(VmStatus.TERMINATED, TargetAction.TERMINATE) == [None] * 3
        await driver.delete_key_pair(region, "key")
    finally:
        await driver.aclose()


async def test_deleting_everything_leaves_nothing_behind(
    cloud: CloudProcess, sites: dict[str, Site]
) -> None:
    for site in sites.values():
        assert site.vm is not None
        await site.driver.terminate_vm(site.region, site.vm.csp_id)
    for site in sites.values():
        await site.wait(VmStatus.TERMINATED, TargetAction.TERMINATE)
        await site.driver.delete_key_pair(site.region, "key")
    admin = LocalCloudAdmin(cloud.url)
    try:
        report = await admin.doctor()
    finally:
        await admin.aclose()
    assert report["leaks"] == [], report
    assert report["summary"]["checked"]
    tag = Layout.of(cloud.db).tag
    assert not [name for name in namespaces() if tag in name]
    assert not [pid for pid in all_pids() if tag in " ".join(command_line(pid))]
    assert not list((cloud.db.parent / "vms").glob("vm-*"))
