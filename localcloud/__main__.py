"""Run the local cloud: `python -m localcloud --host 127.0.0.1 --port 7380 --db PATH
[--time-scale X] [--seed N] [--backend auto|netns|phantom] [--rtt-file PATH]
[--cores-per-vcpu F] [--destroy-on-exit]` (one uvicorn worker; SIGTERM shuts it down
gracefully, and real VMs keep running unless --destroy-on-exit).

Backend: netns gives real VMs (root, the commands and a network namespace needed), phantom
only rows; auto (the default, or $MCIS_LOCALCLOUD_BACKEND) takes netns when it can run."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import uvicorn

from localcloud.app import create_app
from localcloud.netns.choose import (
    BACKENDS,
    DEFAULT_CORES_PER_VCPU,
    BackendUnavailable,
    choose_backend,
)
from localcloud.netns.latency import LinkDelays
from settings import load_settings

BACKEND_ENV = "MCIS_LOCALCLOUD_BACKEND"
log = logging.getLogger("localcloud")


def main(argv: list[str] | None = None) -> None:
    settings = load_settings()
    default_host, default_port = settings.localcloud_host_port
    parser = argparse.ArgumentParser(prog="python -m localcloud", description=__doc__)
    parser.add_argument("--host", default=default_host)
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--db", required=True, help="SQLite file holding the cloud's state")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=settings.localcloud_time_scale,
        help="multiplies every lifecycle timing (default: $MCIS_LOCALCLOUD_TIME_SCALE or 1)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault dice")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=os.environ.get(BACKEND_ENV) or "auto",
        help=f"what VMs are (default: ${BACKEND_ENV} or auto)",
    )
    parser.add_argument(
        "--rtt-file", type=Path, help='YAML RTTs in ms: {"aws/us-east-1": {"gcp/us-central1": 25}}'
    )
    parser.add_argument(
        "--cores-per-vcpu",
        type=float,
        default=DEFAULT_CORES_PER_VCPU,
        help=f"host CPU a real VM gets per vCPU of its spec (default {DEFAULT_CORES_PER_VCPU})",
    )
    parser.add_argument(
        "--destroy-on-exit", action="store_true", help="destroy real VMs when shutting down"
    )
    args = parser.parse_args(argv)
    if args.backend not in BACKENDS:
        parser.error(f"${BACKEND_ENV}: {args.backend!r} is not one of {', '.join(BACKENDS)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        rtt = LinkDelays.load(args.rtt_file)
        backend, why = choose_backend(args.backend, args.db, rtt, args.cores_per_vcpu)
    except (OSError, ValueError, BackendUnavailable) as exc:
        parser.exit(1, f"local cloud: {exc}\n")
    log.info("backend %s (--backend %s): %s", backend.name, args.backend, why)
    app = create_app(
        args.db,
        time_scale=args.time_scale,
        seed=args.seed,
        backend=backend,
        rtt=rtt,
        destroy_on_exit=args.destroy_on_exit,
    )
    uvicorn.run(app, host=args.host, port=args.port, workers=1, log_level="warning")


if __name__ == "__main__":
    main()
