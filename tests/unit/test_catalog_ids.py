"""Catalog ids (`provider+region+name`): parsed once into a `CatalogId` that knows its parts,
with one clear error for a malformed id, and serialised as the same text (the JSON of requests
in workflow inputs and histories does not change)."""

from __future__ import annotations

import copy
import json
import pickle

import pytest
from pydantic import ValidationError

from catalog.entries import CatalogId, Spec, catalog_id
from catalog.records import PerformanceMeasurement
from models.mcis import GroupRequest, McisRequest


def test_an_id_knows_its_parts_and_is_its_text() -> None:
    found = CatalogId("gcp+us-central1+e2-small")
    assert (found.provider, found.region, found.name) == ("gcp", "us-central1", "e2-small")
    assert found.place == ("gcp", "us-central1")
    assert found == "gcp+us-central1+e2-small" and hash(found) == hash("gcp+us-central1+e2-small")
    assert CatalogId("aws+us-east-1+odd+name").name == "odd+name"  # the name may hold "+"
    assert catalog_id("aws", "us-east-1", "t3.small") == CatalogId("aws+us-east-1+t3.small")
    for kept in (copy.deepcopy(found), pickle.loads(pickle.dumps(found))):
        assert isinstance(kept, CatalogId) and kept.place == found.place


@pytest.mark.parametrize("text", ["", "aws", "aws+us-east-1", "aws++t3", "+r+n", "a+r+"])
def test_a_malformed_id_is_refused_with_its_form(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a catalog id of the form provider\+region\+name"):
        CatalogId(text)


def test_parts_that_would_not_parse_back_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot hold"):
        catalog_id("aws+x", "us-east-1", "t3.small")
    with pytest.raises(ValueError, match="is not a catalog id"):
        catalog_id("aws", "", "t3.small")


def test_models_parse_ids_once_and_keep_their_json() -> None:
    spec_text = "aws+us-east-1+t3.small"
    data = {
        "name": "web",
        "groups": [
            {
                "name": "g1",
                "spec": spec_text,
                "image": "aws+us-east-1+ubuntu-22.04",
                "count": 2,
            }
        ],
    }
    request = McisRequest.model_validate(data)
    group = request.groups[0]
    assert isinstance(group.spec, CatalogId) and group.spec.name == "t3.small"
    assert (group.provider, group.region, group.image.name) == ("aws", "us-east-1", "ubuntu-22.04")
    dumped = json.loads(request.model_dump_json())
    assert dumped["groups"][0]["spec"] == spec_text
    assert type(request.model_dump()["groups"][0]["spec"]) is str  # plain text for YAML etc.
    assert McisRequest.model_validate_json(request.model_dump_json()) == request
    spec = Spec(provider="gcp", region="r", name="n", vcpus=1, memory_gib=1, price_per_hour=1)
    assert json.loads(spec.model_dump_json())["id"] == "gcp+r+n"
    assert PerformanceMeasurement(spec_id="gcp+r+n", score=1).spec_id.place == ("gcp", "r")


def test_a_request_with_a_malformed_or_split_id_says_which() -> None:
    with pytest.raises(ValidationError, match=r"'t3\.small' is not a catalog id"):
        GroupRequest(name="g", spec="t3.small", image="aws+r+i", count=1)
    with pytest.raises(ValidationError, match="different clouds or regions"):
        GroupRequest(name="g", spec="aws+r1+s", image="aws+r2+i", count=1)
