"""`mcis catalog specs|images|refresh`: the specs and images of every cloud, and loading them."""

from __future__ import annotations

from catalog.records import CatalogSource
from starter import catalog_commands
from starter.arguments import SPEC_RANGES, integer, number
from starter.commands import Command, Commands, Group, arg

WHERE = (arg("--provider"), arg("--region"))

COMMANDS: Commands = (
    Group("catalog", "specs and images"),
    Command(
        "catalog specs",
        catalog_commands.specs,
        "list specs, cheapest first",
        (
            *WHERE,
            arg("--min-vcpus", type=integer(0, 1_000_000)),
            arg("--max-vcpus", type=integer(0, 1_000_000)),
            arg("--min-memory", type=number(0, 1e9), help="GiB"),
            arg("--max-memory", type=number(0, 1e9), help="GiB"),
            arg("--max-price", type=number(0, 1e9), help="USD per hour"),
            *SPEC_RANGES,
            arg("--source", choices=[s.value for s in CatalogSource]),
            arg("--limit", type=integer(1, 10**6), help="show at most this many"),
        ),
    ),
    Command("catalog images", catalog_commands.images, "list images", WHERE),
    Command(
        "catalog refresh",
        catalog_commands.refresh_catalog,
        "load the local cloud, public clouds (Libcloud data) and the RTT matrix",
        (
            arg("--rtt-file", help="RTT YAML (default: $MCIS_HOME/rtt.yaml if present)"),
            arg("--no-public", action="store_true", help="skip the public clouds"),
        ),
    ),
)
