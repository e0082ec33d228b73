"""The CB-Spider endpoints without a stack (httpx over ASGI): a driver, credential, region and
connection config registered, listed, read and deleted in Spider's JSON shapes; credential
values never come back; a config naming an unregistered region or an unknown provider, a
duplicate and a request without credentials are refused with a JSON message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.spider import create_spider_app
from settings import Settings, load_settings
from starter.stack import isolated_env
from tests.api.conftest import CREDENTIALS, PASSWORD, USERNAME

AWS_REGION = {
    "RegionName": "aws-us-east-1",
    "ProviderName": "AWS",
    "KeyValueInfoList": [
        {"Key": "Region", "Value": "us-east-1"},
        {"Key": "Zone", "Value": "us-east-1a"},
    ],
}
AWS_DRIVER = {
    "DriverName": "aws-driver01",
    "ProviderName": "AWS",
    "DriverLibFileName": "aws-driver-v1.0.so",
}
AWS_CREDENTIAL = {
    "CredentialName": "aws-credential01",
    "ProviderName": "AWS",
    "KeyValueInfoList": [
        {"Key": "ClientId", "Value": "AKIAEXAMPLE"},
        {"Key": "ClientSecret", "Value": "very-secret"},
    ],
}
AWS_CONFIG = {
    "ConfigName": "aws-us-east-1",
    "ProviderName": "AWS",
    "DriverName": "aws-driver01",
    "CredentialName": "aws-credential01",
    "RegionName": "aws-us-east-1",
}


@pytest.fixture
def spider_settings(tmp_path: Path) -> Settings:
    return load_settings({**isolated_env(tmp_path, "mcis-spider-unit"), **CREDENTIALS})


@pytest.fixture
async def spider(spider_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_spider_app(spider_settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://spider", auth=(USERNAME, PASSWORD)
    ) as client:
        yield client


async def register_aws(spider: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Register the AWS driver, credential, region and connection config; their answers."""
    answers = []
    for path, body in (
        ("/spider/driver", AWS_DRIVER),
        ("/spider/credential", AWS_CREDENTIAL),
        ("/spider/region", AWS_REGION),
        ("/spider/connectionconfig", AWS_CONFIG),
    ):
        answer = await spider.post(path, json=body)
        assert answer.status_code == 200, answer.text
        answers.append(answer.json())
    return answers


async def test_a_connection_is_registered_and_echoed_in_spiders_shapes(
    spider: httpx.AsyncClient,
) -> None:
    driver, credential, region, config = await register_aws(spider)
    assert driver == AWS_DRIVER
    assert region == AWS_REGION
    assert config == AWS_CONFIG
    assert credential["CredentialName"] == "aws-credential01"
    assert [pair["Key"] for pair in credential["KeyValueInfoList"]] == ["ClientId", "ClientSecret"]
    assert "very-secret" not in (await spider.get("/spider/credential")).text
    listed = (await spider.get("/spider/connectionconfig")).json()
    assert listed == {"connectionconfig": [AWS_CONFIG]}
    assert (await spider.get("/spider/region/aws-us-east-1")).json() == AWS_REGION
    assert (await spider.get("/spider/driver")).json() == {"driver": [AWS_DRIVER]}


async def test_delete_answers_result_true_then_the_name_is_unknown(
    spider: httpx.AsyncClient,
) -> None:
    await register_aws(spider)
    answer = await spider.delete("/spider/connectionconfig/aws-us-east-1")
    assert (answer.status_code, answer.json()) == (200, {"Result": "true"})
    gone = await spider.get("/spider/connectionconfig/aws-us-east-1")
    assert gone.status_code == 404
    assert gone.json()["message"] == "connectionconfig aws-us-east-1 does not exist"
    assert (await spider.get("/spider/connectionconfig")).json() == {"connectionconfig": []}


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("/spider/connectionconfig", AWS_CONFIG, 404, "region aws-us-east-1 does not exist"),
        ("/spider/driver", {**AWS_DRIVER, "ProviderName": "ACME"}, 400, "ProviderName 'ACME'"),
        (
            "/spider/region",
            {**AWS_REGION, "KeyValueInfoList": [{"Key": "Zone", "Value": "a"}]},
            400,
            "needs the cloud's region",
        ),
        ("/spider/region", {"RegionName": "r"}, 400, "ProviderName"),
        ("/spider/cloudos", AWS_DRIVER, 400, "kind"),
    ],
)
async def test_a_bad_registration_is_refused_with_a_message(
    spider: httpx.AsyncClient, path: str, body: dict[str, Any], status: int, says: str
) -> None:
    answer = await spider.post(path, json=body)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["message"]


async def test_a_name_registered_twice_is_a_conflict(spider: httpx.AsyncClient) -> None:
    await register_aws(spider)
    again = await spider.post("/spider/region", json=AWS_REGION)
    assert again.status_code == 409
    assert again.json()["message"] == "region aws-us-east-1 already exists"


async def test_a_config_of_another_provider_than_its_region_is_refused(
    spider: httpx.AsyncClient,
) -> None:
    await spider.post("/spider/region", json=AWS_REGION)
    answer = await spider.post(
        "/spider/connectionconfig",
        json={**AWS_CONFIG, "ProviderName": "GCP", "DriverName": "", "CredentialName": ""},
    )
    assert answer.status_code == 400
    assert "region aws-us-east-1 is of AWS" in answer.json()["message"]


async def test_requests_without_credentials_get_401(spider_settings: Settings) -> None:
    transport = httpx.ASGITransport(app=create_spider_app(spider_settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://spider") as anonymous:
        answer = await anonymous.post("/spider/driver", json=AWS_DRIVER)
        assert answer.status_code == 401
        assert "message" in answer.json()


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
FIELDS = ("DriverName", "CredentialName", "RegionName", "ConfigName", "ProviderName")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["driver", "credential", "region", "connectionconfig", "x"]),
    body=st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), JSON, max_size=6) | JSON,
    name=st.text(min_size=1, max_size=30).filter(lambda t: "/" not in t and t not in (".", "..")),
)
def test_bad_input_is_a_4xx_json_error(
    spider_settings: Settings, kind: str, body: Any, name: str
) -> None:
    with TestClient(create_spider_app(spider_settings)) as client:
        client.auth = (USERNAME, PASSWORD)
        for answer in (
            client.post(f"/spider/{kind}", json=body),
            client.get(f"/spider/{kind}/{quote(name, safe='')}"),
            client.delete(f"/spider/{kind}/{quote(name, safe='')}"),
        ):
            assert answer.status_code < 500, answer.text
            if answer.status_code >= 400:
                assert set(answer.json()) == {"error", "message"}
