"""Parsing users' YAML/JSON documents: hostile ones are one DocumentError, fast; modest anchors
and ordinary documents still load."""

from __future__ import annotations

import time

import pytest

from models.documents import DocumentError, parse_document

BOMB = "\n".join(
    ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)]
)


@pytest.mark.parametrize(
    ("text", "as_json", "error"),
    [
        (BOMB, False, "expands to more than"),
        ("a: &a [*a]", False, "refers to the value that holds it"),
        ("[" * 100_000 + "]" * 100_000, True, "nested too deeply"),
        ("a: " + "[" * 100_000, False, "nested too deeply"),
        ('{"a": ' + "1" * 5000 + "}", True, "integer string conversion"),
        ("a: " + "1" * 5000, False, "integer string conversion"),
        ("{bad", True, "Expecting property name"),
        ("a: [", False, "expected"),
        ("--- 1\n--- 2\n", False, "single document"),
        ("!!python/object/apply:os.system ['true']", False, "could not determine a constructor"),
    ],
)
def test_hostile_documents_are_one_line_errors(text: str, as_json: bool, error: str) -> None:
    started = time.monotonic()
    with pytest.raises(DocumentError, match=error) as refused:
        parse_document(text, as_json)
    assert "\n" not in str(refused.value)
    assert time.monotonic() - started < 5


def test_ordinary_documents_and_modest_anchors_load() -> None:
    assert parse_document("") is None
    assert parse_document('{"a": [1, 2.5, null]}', as_json=True) == {"a": [1, 2.5, None]}
    shared = "base: &base {count: 2}\ngroups:\n  - {<<: *base, name: a}\n  - {<<: *base, name: b}"
    assert parse_document(shared)["groups"] == [
        {"count": 2, "name": "a"},
        {"count": 2, "name": "b"},
    ]
