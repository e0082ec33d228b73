"""`mcis recommend`: the best specs under weighted priorities; its filters and priorities are
also those of `mcis create --recommend` (`CREATE`)."""

from __future__ import annotations

from models.mcis import MAX_VMS_PER_MCIS
from starter import placement_commands
from starter.arguments import SPEC_RANGES, integer, number
from starter.commands import Command, Commands, arg

PLACEMENT = (
    *SPEC_RANGES,
    arg("--max-price", type=number(0, 1e9), help="USD per hour"),
    arg("--provider", action="append", help="cloud(s): P or P1,P2 (repeatable)"),
    arg("--region", action="append", help="region name or P/R (repeatable)"),
    arg(
        "--priority",
        help="weights: cost=0.6,latency=0.4 (cost, performance, location, latency); default "
        "cost=1, plus location=1 with --near and latency=1 with --latency-to",
    ),
    arg("--near", help="LAT,LON for the location priority (--near=-33.9,151.2)"),
    arg("--latency-to", help="region keys P/R,P/R for the latency priority"),
)
"""Filters and priorities of a placement."""

CREATE = (
    arg("--recommend", action="store_true", help="plan the MCIS from filters and priorities"),
    arg("--count", type=integer(1, MAX_VMS_PER_MCIS), help="--recommend: number of VMs"),
    arg(
        "--latency-bound",
        type=number(0, 10**6),
        help="--recommend: every VM-to-VM RTT below this (ms)",
    ),
    arg("--min-regions", type=integer(1, 1000), default=1, help="--recommend: spread"),
    arg("--min-providers", type=integer(1, 1000), default=1, help="--recommend: spread"),
    arg(
        "--image-os",
        default=placement_commands.DEFAULT_IMAGE_OS,
        help="--recommend: e.g. ubuntu-22.04",
    ),
    arg("--dry-run", action="store_true", help="--recommend: plan only"),
    *PLACEMENT,
)
"""`mcis create --recommend ...`."""

COMMANDS: Commands = (
    Command(
        "recommend",
        placement_commands.recommend,
        "best specs under weighted priorities",
        (*PLACEMENT, arg("--limit", type=integer(1, 10**6), default=10)),
    ),
)
