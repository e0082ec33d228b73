"""Names users give and names mcis derives (VM names, cloud names, idempotency tokens)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.naming import (
    NAME_PATTERN,
    InvalidNameError,
    check_name,
    cloud_vm_name,
    is_valid_name,
    shared_resource_name,
    vm_client_token,
    vm_name,
)


@pytest.mark.parametrize("name", ["a", "web", "web-1", "a1b2", "x" * 40, "ns-2-b"])
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "must not be empty"),
        ("Web", "invalid"),
        ("1web", "invalid"),
        ("web-", "invalid"),
        ("-web", "invalid"),
        ("web_1", "invalid"),
        ("web 1", "invalid"),
        ("x" * 41, "longer than 40"),
        ("wéb", "invalid"),
        ("web\n", "invalid"),  # a `$`-anchored match took it
        ("web-1\n", "invalid"),
    ],
)
def test_invalid_names_say_why(name: str, reason: str) -> None:
    with pytest.raises(InvalidNameError, match=reason):
        check_name(name, "MCIS name")


NAMEISH = st.one_of(
    st.text(max_size=50),
    st.from_regex(NAME_PATTERN, fullmatch=True).map(lambda n: n[:40] + "\n"),  # a valid name + \n
    st.from_regex(NAME_PATTERN, fullmatch=True),
)


@given(NAMEISH)
def test_validity_matches_the_reference_pattern(name: str) -> None:
    import re

    expected = bool(re.fullmatch(NAME_PATTERN.strip("^$"), name)) and len(name) <= 40
    assert is_valid_name(name) == expected


def test_derived_names() -> None:
    assert vm_name("web", 3) == "web-3"
    assert cloud_vm_name("dev", "shop", "web-3") == "dev-shop-web-3"
    assert shared_resource_name("aws", "us-east-1") == "shared-aws-us-east-1"


def test_tokens_are_stable_and_distinct_where_they_must_be() -> None:
    token = vm_client_token("dev", "shop", "uid-1", "web-1")
    assert token == vm_client_token("dev", "shop", "uid-1", "web-1")  # a retry finds its VM
    assert token != vm_client_token("dev", "shop", "uid-1", "web-2")
    assert token != vm_client_token("dev", "shop", "uid-1", "web-1", attempt=1)  # replacement
    assert token != vm_client_token("dev", "shop", "uid-2", "web-1")  # MCIS created again
    assert token.startswith("mcis-") and len(token) == 37


@given(st.integers(1, 10**6), st.integers(1, 10**6), st.sampled_from(["web-1", "web-2"]))
def test_a_serial_token_belongs_to_its_serial_alone(serial: int, other: int, name: str) -> None:
    """From release 0.2 a token derives from the MCIS uid and the VM's serial, never its name:
    two VMs that bear one name one after the other get two tokens, and no serial token meets a
    release 0.1 token (serial 0, from name and attempt)."""
    token = vm_client_token("dev", "shop", "uid-1", name, serial=serial)
    assert token == vm_client_token("dev", "shop", "uid-1", "web-9", attempt=3, serial=serial)
    assert (token == vm_client_token("dev", "shop", "uid-1", name, serial=other)) == (
        serial == other
    )
    assert token != vm_client_token("dev", "shop", "uid-1", name, attempt=serial)
