"""Argument types for numbers: checked while parsing (a bad one is one line and exit code 2 before
anything runs), in a range that makes sense, and never NaN or infinite; ranges (`2..4`) the same,
and the spec ranges several commands take (`SPEC_RANGES`)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

from catalog.ranking import Range
from starter.commands import arg


class _NumberType:
    """An argparse `type=` that parses a number and checks its range; `numeric` tells tests."""

    numeric = True

    def __init__(self, parse: Callable[[str], Any], low: float, high: float, what: str) -> None:
        self._parse, self._low, self._high, self.__name__ = parse, low, high, what

    def __call__(self, text: str) -> Any:
        try:
            value = self._parse(text)
        except ValueError:
            raise ValueError(text) from None  # argparse: "invalid <__name__> value: 'text'"
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(text)
        if not self._low <= value <= self._high:
            raise ValueError(text)
        return value

    def __repr__(self) -> str:
        return self.__name__


def integer(low: int, high: int) -> _NumberType:
    """A whole number in [low, high]."""
    return _NumberType(int, low, high, f"whole number {low}..{high}")


def number(low: float, high: float) -> _NumberType:
    """A finite number in [low, high]."""
    return _NumberType(float, low, high, f"number {low:g}..{high:g}")


def positive_seconds(high: float) -> _NumberType:
    """Seconds above 0, at most `high`."""
    return _NumberType(float, math.ulp(0.0), high, f"seconds (0..{high:g}]")


def value_range(flag: str) -> Callable[[str], Range]:
    """A `MIN..MAX` range (`2..4`, `2..`, `..8`, `4`) of finite numbers, MIN <= MAX."""

    def parse(text: str) -> Range:
        try:
            return Range.parse(text, flag)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{flag} ")) from None

    return parse


SPEC_RANGES = (
    arg("--vcpus", type=value_range("--vcpus"), help="range: 2..4, 2.., ..8 or 4"),
    arg("--memory", type=value_range("--memory"), help="GiB range: 4..16"),
    arg("--price", type=value_range("--price"), help="USD per hour range: ..0.2"),
)
"""`--vcpus`, `--memory` and `--price` ranges (catalog specs, recommend, create)."""
