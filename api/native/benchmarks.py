"""Native API: benchmarks on the VMs of an MCIS (`/v1/ns/NS/mcis/NAME/benchmarks`), as
`mcis bench`: `POST` runs them (the benchmark workflow: 202 with its id and status URL, `GET
.../benchmarks/RUN`: `running`, then `completed` with the report, rows and what the catalog
learnt, or `failed`); `GET .../benchmarks` gives the stored results of the latest runs, as
`mcis bench --show`."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import Field

from api.errors import ApiError
from api.native.common import Body, Ctx, Started, started
from models.benchmark import BenchRow
from starter import bench_service
from starter.errors import CliError
from starter.namespace_service import existing_namespace
from starter.runs_service import RunState
from starter.views import checked_name

router = APIRouter(prefix="/ns/{ns}/mcis/{name}/benchmarks", tags=["benchmarks"])


class Benchmark(Body):
    action: str = Field(
        default="all",
        max_length=1000,
        description="all, or A1,A2 of cpus, cpum, memR, memW, fioR, fioW, dbR, dbW, rtt, mrtt",
    )
    target: str | None = Field(default=None, max_length=255, description="rtt: the IP to ping")
    seconds: int = Field(default=2, ge=1, le=60, description="each timed sysbench and fio run")
    pings: int = Field(default=5, ge=1, le=50, description="rtt and mrtt: pings per target")


@router.post("", status_code=202)
async def run_benchmark(
    ctx: Ctx,
    request: Request,
    response: Response,
    ns: str,
    name: str,
    body: Benchmark | None = None,
) -> Started:
    asked = body or Benchmark()
    try:
        inp = bench_service.benchmark_input(
            ns, name, asked.action, asked.target, asked.seconds, asked.pings
        )
    except CliError as exc:  # a bad name or body, never a missing thing (an unknown action)
        raise ApiError(400, "bad_request", exc.message) from None
    handle = await bench_service.start_benchmark(ctx, inp)
    return started(request, response, handle.id, "benchmark_run", ns=ns, name=name)


@router.get("")
async def stored_results(ctx: Ctx, ns: str, name: str) -> list[BenchRow]:
    existing_namespace(ctx, ns)
    checked_name(name, "MCIS name")
    return bench_service.stored_results(ctx, ns, name)


@router.get("/{run}")
async def benchmark_run(ctx: Ctx, ns: str, name: str, run: str) -> RunState:
    return await bench_service.benchmark_run(ctx, ns, name, run)
