"""The dashboard's routes without a browser (over the ASGI app): the page and its files behind
HTTP Basic, nothing outside `api/dashboard/static/`, and the Temporal UI's whereabouts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from settings import load_settings
from starter.context import Context
from starter.stack import isolated_env

AUTH = ("viewer", "secret")


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    env = {
        **isolated_env(tmp_path, "dashboard-routes"),
        "MCIS_API_USERNAME": AUTH[0],
        "MCIS_API_PASSWORD": AUTH[1],
        "MCIS_TEMPORAL_UI_PORT": "18233",
    }
    ctx = Context(load_settings(env))
    transport = httpx.ASGITransport(app=create_app(ctx.settings, ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://api", auth=AUTH) as http:
        yield http
    await ctx.aclose()


async def test_the_page_and_its_scripts_are_served_behind_basic_auth(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/dashboard/dashboard.js">' in page.text
    for name, kind in (("dashboard.js", "javascript"), ("worldmap.js", "javascript")):
        script = await client.get(f"/dashboard/{name}")
        assert script.status_code == 200 and kind in script.headers["content-type"]
    style = await client.get("/dashboard/dashboard.css")
    assert style.headers["content-type"].startswith("text/css")
    for path in ("/", "/dashboard/dashboard.js", "/dashboard/config"):
        assert (await client.get(path, auth=None)).status_code == 401


async def test_nothing_outside_the_static_folder(client: httpx.AsyncClient) -> None:
    for path, name in (
        ("/dashboard/%2e%2e/__init__.py", "../__init__.py"),
        ("/dashboard/..%2f..%2fapp.py", "../../app.py"),
        ("/dashboard/%2fetc%2fpasswd", "/etc/passwd"),
        ("/dashboard/nothing.js", "nothing.js"),
    ):
        answer = await client.get(path)
        assert answer.status_code == 404, path
        assert answer.json() == {"error": "not_found", "message": f"no dashboard file {name!r}"}


async def test_config_says_where_the_temporal_ui_is(client: httpx.AsyncClient) -> None:
    answer = await client.get("/dashboard/config")
    assert answer.json() == {"temporal_ui_port": 18233, "temporal_namespace": "default"}
