"""The dashboard in a real browser: headless Chromium opens it over HTTP while a 6-VM MCIS runs
over aws, gcp and azure (2 VMs each, one region each: the demo's groups), finds one marker per
region totalling 6 VMs, the MCIS's status and its VMs, saves a screenshot
(tests/output/dashboard.png), then sees the MCIS suspend through the event stream without a
reload."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from api.dashboard import STATIC
from starter.demo import GROUPS
from tests.browser.conftest import OUTPUT, Served, save_full_page
from tests.e2e.conftest import E2E

pytestmark = pytest.mark.e2e

NAMESPACE = "dash"
MCIS = "world"
COUNTRY_SHAPES = STATIC / "vendor" / "world-atlas" / "countries-110m.json"

ALWAYS = {"metric": "cpu", "operator": ">=", "operand": 0, "evaluation_period": 1}
NEVER = {"metric": "cpu", "operator": "<=", "operand": -1, "evaluation_period": 10}
POLICY = {
    "sample_interval_s": 1,
    "cooldown_s": 600,
    "min_vms": 6,
    "max_vms": 8,
    "rules": [
        {
            "condition": ALWAYS,
            "action": {"kind": "Resume"},
        },
        {  # never holds: keeps the last 10 samples to show
            "condition": NEVER,
            "action": {"kind": "ScaleIn"},
        },
    ],
}

T = TypeVar("T")

# What the page shows, read from its DOM attributes in one call.
SNAPSHOT = """
const status = document.getElementById("mcis-status");
const errors = document.getElementById("errors");
const cpuSamples = document.querySelector('tr[data-metric="cpu"] td.samples');
return {
  markers: [...document.querySelectorAll(".region-marker")].map((m) => ({
    region: m.dataset.region, provider: m.dataset.provider,
    vms: Number(m.dataset.vms), status: m.dataset.status,
  })),
  links: [...document.querySelectorAll(".rtt-link")].map((l) => ({
    a: l.dataset.a, b: l.dataset.b, rtt: Number(l.dataset.rttMs), source: l.dataset.source,
  })),
  status: status.dataset.status ?? null,
  display: status.querySelector(".status-badge")?.textContent ?? null,
  vms: [...document.querySelectorAll("#vms tr.vm")].map((r) => ({
    name: r.dataset.vm, status: r.dataset.status, cells: [...r.cells].map((c) => c.textContent),
  })),
  policy: document.querySelector(".policy-state")?.dataset.state ?? null,
  samples: Number(cpuSamples?.dataset.count ?? 0),
  decisions: [...document.querySelectorAll("tr.decision")].map((r) => r.cells[3].textContent),
  countries: Number(document.querySelector(".world-map").dataset.countries ?? 0),
  workflow: document.querySelector("#mcis-status .temporal-link")?.href ?? null,
  live: document.getElementById("live").textContent,
  events: Number(document.getElementById("live").dataset.events ?? 0),
  errors: errors.hidden ? "" : errors.textContent,
};
"""


def wait_for(read: Callable[[], T], done: Callable[[T], bool], what: str, timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value):
        assert time.monotonic() < deadline, f"{what}: still {value}"
        time.sleep(0.2)
        value = read()
    return value


@pytest.fixture(scope="module")
def running_mcis(stack: E2E, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The MCIS, with a policy that samples every second and decides once, at its first sample
    (a Resume of the running MCIS: a no-op)."""
    stack.ok("ns", "create", NAMESPACE)
    groups = [arg for group in GROUPS for arg in ("--group", group)]
    view: dict[str, Any] = stack.json("create", NAMESPACE, MCIS, *groups, timeout=300)
    assert view["display"] == "Running (6/6)"
    policy = tmp_path_factory.mktemp("policy") / "policy.json"
    policy.write_text(json.dumps(POLICY))
    stack.ok("policy", "create", NAMESPACE, MCIS, "-f", str(policy))
    return view


def test_dashboard_shows_the_mcis_on_the_world_map_and_follows_its_status(
    browser: Any, api: Served, stack: E2E, running_mcis: dict[str, Any]
) -> None:
    assert COUNTRY_SHAPES.is_file(), "country shapes missing: `make install` fetches them"
    browser.get(f"{api.url}/#ns={NAMESPACE}&mcis={MCIS}")

    def page() -> dict[str, Any]:
        snapshot: dict[str, Any] = browser.execute_script(SNAPSHOT)
        return snapshot

    shown = wait_for(
        page,
        lambda p: (
            sum(m["vms"] for m in p["markers"]) == 6
            and len(p["vms"]) == 6
            and p["live"] == "live"
            and p["policy"] is not None  # its panel is read apart from the MCIS's
        ),
        "6 VMs on the map and in the table, the event stream open, the policy shown",
    )
    assert shown["errors"] == ""
    regions = {vm["region"] for vm in running_mcis["vms"]}
    assert {m["region"].split("/")[1] for m in shown["markers"]} == regions
    assert sorted((m["provider"], m["vms"], m["status"]) for m in shown["markers"]) == [
        ("aws", 2, "Running"),
        ("azure", 2, "Running"),
        ("gcp", 2, "Running"),
    ]
    assert len(shown["links"]) == 3  # every pair of the three regions
    assert all(link["source"] == "estimated" and link["rtt"] > 2 for link in shown["links"])
    assert (shown["status"], shown["display"]) == ("Running", "Running (6/6)")
    assert {vm["name"] for vm in shown["vms"]} == {vm["id"] for vm in running_mcis["vms"]}
    assert all(vm["status"] == "Running" for vm in shown["vms"])
    assert shown["countries"] > 150  # Natural Earth's 1:110m countries
    assert shown["workflow"].endswith(f"/workflows/mcis%2F{NAMESPACE}%2F{MCIS}")
    assert shown["policy"] in ("Ready", "Checking", "Detected", "Operating", "Stabilizing"), shown

    save_full_page(browser, OUTPUT / "dashboard.png")

    stack.ok("policy", "delete", NAMESPACE, MCIS)
    stack.ok("suspend", NAMESPACE, MCIS)
    suspended = wait_for(
        page,
        lambda p: (
            p["status"] == "Suspended" and {m["status"] for m in p["markers"]} == {"Suspended"}
        ),
        "the suspend shown without a reload",
    )
    assert suspended["events"] > 0
    assert suspended["display"] == "Suspended (6/6)"
