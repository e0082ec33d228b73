"""Run the local cloud: `python -m localcloud --host 127.0.0.1 --port 7380 --db PATH
[--time-scale X] [--seed N]` (one uvicorn worker; SIGTERM shuts it down gracefully)."""

from __future__ import annotations

import argparse

import uvicorn

from localcloud.app import create_app
from settings import load_settings


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
    args = parser.parse_args(argv)
    app = create_app(args.db, time_scale=args.time_scale, seed=args.seed)
    uvicorn.run(app, host=args.host, port=args.port, workers=1, log_level="warning")


if __name__ == "__main__":
    main()
