"""Browser test fixtures: an embedded stack (as the end-to-end tests start it) with its API
server (uvicorn on a free loopback port), and headless Chromium driven by Selenium
with the API's HTTP Basic credentials sent on every request (DevTools' extra headers: a
user:pass@ URL does not reach a page's subresources in modern Chromium). Skipped, with the
reason, where Chromium or its driver is not installed."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from starter.stack import api_url, isolated_env
from tests.e2e.conftest import E2E, TIME_SCALE, running_stack

USERNAME = "dashboard"
PASSWORD = "browser-test"
WINDOW = (1400, 1100)
OUTPUT = Path(__file__).resolve().parents[1] / "output"
"""Screenshots land here (gitignored), named after their test."""


@dataclass
class Served:
    url: str
    auth: tuple[str, str]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    home = tmp_path_factory.mktemp("mcis-dashboard")
    env = {
        **os.environ,
        **isolated_env(home, "mcis-dashboard", TIME_SCALE),
        "MCIS_API_USERNAME": USERNAME,
        "MCIS_API_PASSWORD": PASSWORD,
    }
    with running_stack(env) as e2e:
        yield e2e


@pytest.fixture(scope="module")
def api(stack: E2E) -> Served:
    """The stack's API server (uvicorn on a free loopback port, started with the stack)."""
    url = api_url(stack.settings)
    assert httpx.get(f"{url}/health", trust_env=False).status_code == 200
    return Served(url, (USERNAME, PASSWORD))


@pytest.fixture
def browser(api: Served) -> Iterator[Any]:
    """Headless Chromium (a Selenium WebDriver) whose every request carries the API's
    credentials."""
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    if missing:
        names = " and ".join(missing)
        pytest.skip(f"{names} not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in CI
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(
        options=options, service=webdriver.ChromeService(shutil.which("chromedriver"))
    )
    token = base64.b64encode(":".join(api.auth).encode()).decode()
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}}
    )
    try:
        yield driver
    finally:
        driver.quit()


def save_full_page(driver: Any, path: Path) -> None:
    """A PNG of the whole page, however long (the viewport set to the page's size first)."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    metrics = {"width": WINDOW[0], "height": int(size["height"]) + 1}
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {**metrics, "deviceScaleFactor": 1, "mobile": False}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(path)), f"no screenshot at {path}"
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
