"""The local cloud's HTTP API (Starlette): catalog, vNets, security groups, key pairs, VMs and
their metrics per flavor under /v1/{flavor}/..., the RTT matrix between regions at /v1/latency,
plus /admin/... for faults, timings, stats, reset and the doctor (leaks of real VMs).

JSON everywhere; errors are `{"error": {"code": ..., "message": ...}}`. Every request runs in
one database transaction. Fault injection applies to /v1/{flavor} routes only: a throttled,
failed or refused request changes nothing, a "lost response" commits its change and still
answers 503. With a real backend a ticker settles every VM each SETTLE_INTERVAL_S (real VMs
change while nobody reads them); its VMs outlive the app unless `destroy_on_exit`.

Batches of one region: `POST .../vms:batch` takes `{"vms": [create body, ...]}` and
`POST .../vms:action` takes `{"action": "suspend"|"resume"|"reboot"|"terminate", "ids": [...]}`
(at most MAX_BATCH each); both answer 200 with `{"results": [...]}`, one per VM in order: the
VM as `{"status": 201|200|202, "vm": {...}}` with the status the per-VM call would answer
(`"vm": null` for a VM terminated now that its cloud no longer knows), or the error the per-VM
call would answer, for that VM alone, as `{"status": 4xx, "error": {"code": ..., "message":
...}}`. Injected faults and throttling decide the fate of a batch request as a whole, as of any
other request (a lost response commits the whole batch); refusals and boot failures roll their
dice per VM, as the per-VM calls do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from localcloud.engine import ACTIONS, Engine, PhantomBackend, VmBackend
from localcloud.errors import ApiError, invalid, not_found
from localcloud.faults import Faults, RefusalBody
from localcloud.flavors import FLAVORS, Flavor, RegionInfo, price
from localcloud.netns.cgroups import Cgroups
from localcloud.netns.doctor import Doctor
from localcloud.netns.latency import LinkDelays
from localcloud.netns.layout import Layout
from localcloud.resources import Resources
from localcloud.schemas import (
    FaultBody,
    KeyPairBody,
    SecurityGroupBody,
    SimulatedLoadBody,
    TimingBody,
    VmActionBody,
    VmBatchBody,
    VmBody,
    VnetBody,
)
from localcloud.state import CloudState, FaultSetting, KeyPair, SecurityGroup, Vm, Vnet

B = TypeVar("B", bound=BaseModel)
Json = dict[str, Any]
Handler = Callable[["Call"], Response]

TAG_PREFIX = "tag:"
SETTLE_INTERVAL_S = 0.2

log = logging.getLogger("localcloud")


class Call:
    """One API request, read: path parameters (flavor and region checked to exist), query
    tags and the JSON body."""

    def __init__(self, request: Request, body: bytes) -> None:
        self.request = request
        self._body = body
        self.params: dict[str, str] = dict(request.path_params)
        self.tags = {
            key.removeprefix(TAG_PREFIX): value
            for key, value in request.query_params.multi_items()
            if key.startswith(TAG_PREFIX)
        }
        if "flavor" in self.params:
            flavor = _flavor(self.params["flavor"])
            if "region" in self.params:
                _region(flavor, self.params["region"])

    @property
    def flavor(self) -> str:
        return self.params["flavor"]

    @property
    def region(self) -> str:
        return self.params["region"]

    @property
    def query_region(self) -> str | None:
        return self.request.query_params.get("region")

    def parse(self, model: type[B]) -> B:
        try:
            return model.model_validate_json(self._body or b"{}")
        except ValidationError as exc:
            raise invalid(_describe(exc)) from exc


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: " + e["msg"].removeprefix("Value error, ")
        for e in exc.errors()
    )


def _flavor(name: str) -> Flavor:
    flavor = FLAVORS.get(name)
    if flavor is None:
        raise not_found(f"unknown flavor {name!r}; known: {', '.join(FLAVORS)}")
    return flavor


def _region(flavor: Flavor, name: str) -> RegionInfo:
    region = flavor.region(name)
    if region is None:
        known = ", ".join(r.name for r in flavor.regions)
        raise not_found(f"{flavor.name} has no region {name!r}; known: {known}")
    return region


def _regions(flavor: Flavor, name: str | None) -> tuple[RegionInfo, ...]:
    return flavor.regions if name is None else (_region(flavor, name),)


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _json(payload: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(payload, status_code=status)


def _created(payload: Json, new: bool) -> JSONResponse:
    return _json(payload, 201 if new else 200)


def _resource(item: Vnet | SecurityGroup | KeyPair, **own: Any) -> Json:
    """The JSON of a vNet, security group or key pair: what they share, with `own` fields."""
    return {
        "id": item.id,
        "name": item.name,
        "provider": item.flavor,
        "region": item.region,
        **own,
        "tags": item.tags,
        "created_at": _time(item.created_at),
    }


def _error(error: ApiError) -> Json:
    """One VM's error in a batch answer."""
    return {"status": error.status, "error": {"code": error.code, "message": error.message}}


def _vm_body(item: dict[str, Any]) -> VmBody | ApiError:
    """One create body of a batch, or the InvalidParameter it is."""
    try:
        return VmBody.model_validate(item)
    except ValidationError as exc:
        return invalid(_describe(exc))


def _vnet(vnet: Vnet) -> Json:
    return _resource(vnet, cidr=vnet.cidr, subnets=vnet.subnets)


def _security_group(group: SecurityGroup) -> Json:
    return _resource(group, vnet_id=group.vnet_id, rules=group.rules)


def _key_pair(key: KeyPair) -> Json:
    return _resource(key, fingerprint=key.fingerprint, public_key=key.public_key)


class Api:
    """Route handlers over the engine (VMs), resources (network, keys) and faults."""

    def __init__(
        self,
        store: CloudState,
        engine: Engine,
        faults: Faults,
        clock: Callable[[], float],
        rtt: LinkDelays,
        doctor: Doctor,
    ) -> None:
        self.store = store
        self.engine = engine
        self.faults = faults
        self.resources = Resources(store, clock)
        self.rtt = rtt
        self.doctor = doctor
        self.served = 0

    # plumbing

    def _endpoint(self, handler: Handler, faulty: bool) -> Callable[[Request], Awaitable[Response]]:
        """Read the request, roll the fault dice (/v1 only), run `handler` in a transaction."""

        async def endpoint(request: Request) -> Response:
            self.served += 1
            call = Call(request, await request.body())
            lose_response = faulty and self.faults.check(
                call.flavor,
                call.params.get("region") or call.query_region,
                mutating=request.method != "GET",
            )
            with self.store.transaction():
                response = handler(call)
            if lose_response:
                raise ApiError(503, "InternalError", "the response was lost (injected)")
            return response

        return endpoint

    def routes(self) -> list[Route]:
        region = "/v1/{flavor}/regions/{region}"
        v1: list[tuple[str, str, Handler]] = [
            ("GET", "/v1/{flavor}/regions", self.regions),
            ("GET", "/v1/{flavor}/specs", self.specs),
            ("GET", "/v1/{flavor}/images", self.images),
            ("POST", f"{region}/vnets", self.create_vnet),
            ("GET", f"{region}/vnets", self.list_vnets),
            ("GET", f"{region}/vnets/{{vnet_id}}", self.get_vnet),
            ("DELETE", f"{region}/vnets/{{vnet_id}}", self.delete_vnet),
            ("POST", f"{region}/security-groups", self.create_security_group),
            ("GET", f"{region}/security-groups", self.list_security_groups),
            ("GET", f"{region}/security-groups/{{sg_id}}", self.get_security_group),
            ("DELETE", f"{region}/security-groups/{{sg_id}}", self.delete_security_group),
            ("POST", f"{region}/keypairs", self.create_key_pair),
            ("GET", f"{region}/keypairs", self.list_key_pairs),
            ("DELETE", f"{region}/keypairs/{{name}}", self.delete_key_pair),
            ("POST", f"{region}/vms", self.create_vm),
            ("POST", f"{region}/vms:batch", self.create_vms),
            ("POST", f"{region}/vms:action", self.act_on_vms),
            ("GET", f"{region}/vms", self.list_vms),
            ("GET", f"{region}/vms/{{vm_id}}", self.get_vm),
            ("GET", f"{region}/vms/{{vm_id}}/metrics", self.vm_metrics),
            ("GET", f"{region}/metrics", self.region_metrics),
            *(
                ("POST", f"{region}/vms/{{vm_id}}/{action}", partial(self.act, action))
                for action in ACTIONS
            ),
        ]
        admin: list[tuple[str, str, Handler]] = [
            ("GET", "/healthz", self.health),
            ("GET", "/v1/latency", self.latency),
            ("GET", "/admin/doctor", self.check_leaks),
            ("POST", "/admin/doctor/clean", self.clean_leaks),
            ("GET", "/admin/vms", self.all_vms),
            ("GET", "/admin/faults", self.get_faults),
            ("PUT", "/admin/faults", self.put_faults),
            ("DELETE", "/admin/faults", self.clear_faults),
            ("GET", "/admin/refusals", self.get_refusals),
            ("PUT", "/admin/refusals", self.put_refusals),
            ("GET", "/admin/timings", self.get_timings),
            ("PUT", "/admin/timings", self.put_timings),
            ("DELETE", "/admin/timings", self.clear_timings),
            ("GET", "/admin/stats", self.stats),
            ("POST", "/admin/reset", self.reset),
            ("PUT", "/admin/simulated-load", self.simulate_load),
        ]
        return [
            Route(path, self._endpoint(handler, faulty), methods=[method])
            for faulty, table in ((True, v1), (False, admin))
            for method, path, handler in table
        ]

    def _vm(self, vm: Vm) -> Json:
        return {
            "id": vm.id,
            "name": vm.name,
            "provider": vm.flavor,
            "region": vm.region,
            "spec": vm.spec,
            "image": vm.image,
            "native_status": self.engine.native(vm),
            "failure_reason": self.engine.failure_reason(vm),
            "public_ip": vm.public_ip,
            "private_ip": vm.private_ip,
            "client_token": vm.client_token,
            "tags": vm.tags,
            "vnet_id": vm.vnet_id,
            "subnet_id": vm.subnet_id,
            "security_group_ids": vm.security_group_ids,
            "key_name": vm.key_name,
            "created_at": _time(vm.created_at),
        }

    # catalog

    def regions(self, call: Call) -> Response:
        flavor = _flavor(call.flavor)
        return _json(
            [
                {
                    "provider": flavor.name,
                    "name": r.name,
                    "display_name": r.display_name,
                    "latitude": r.latitude,
                    "longitude": r.longitude,
                }
                for r in flavor.regions
            ]
        )

    def specs(self, call: Call) -> Response:
        flavor = _flavor(call.flavor)
        return _json(
            [
                {
                    "provider": flavor.name,
                    "region": r.name,
                    "name": s.name,
                    "vcpus": s.vcpus,
                    "memory_gib": s.memory_gib,
                    "price_per_hour": price(s, r),
                }
                for r in _regions(flavor, call.query_region)
                for s in flavor.specs
            ]
        )

    def images(self, call: Call) -> Response:
        flavor = _flavor(call.flavor)
        return _json(
            [
                {"provider": flavor.name, "region": r.name, "name": i.name, "os": i.os}
                for r in _regions(flavor, call.query_region)
                for i in flavor.images
            ]
        )

    # vNets, security groups, key pairs

    def create_vnet(self, call: Call) -> Response:
        vnet, new = self.resources.ensure_vnet(call.flavor, call.region, call.parse(VnetBody))
        return _created(_vnet(vnet), new)

    def list_vnets(self, call: Call) -> Response:
        return _json([_vnet(v) for v in self.store.vnets(call.flavor, call.region, call.tags)])

    def get_vnet(self, call: Call) -> Response:
        return _json(_vnet(self.resources.vnet(call.flavor, call.region, call.params["vnet_id"])))

    def delete_vnet(self, call: Call) -> Response:
        self.resources.delete_vnet(call.flavor, call.region, call.params["vnet_id"])
        return Response(status_code=204)

    def create_security_group(self, call: Call) -> Response:
        body = call.parse(SecurityGroupBody)
        group, new = self.resources.ensure_security_group(call.flavor, call.region, body)
        return _created(_security_group(group), new)

    def list_security_groups(self, call: Call) -> Response:
        groups = self.store.security_groups(call.flavor, call.region, call.tags)
        return _json([_security_group(g) for g in groups])

    def get_security_group(self, call: Call) -> Response:
        group = self.resources.security_group(call.flavor, call.region, call.params["sg_id"])
        return _json(_security_group(group))

    def delete_security_group(self, call: Call) -> Response:
        self.resources.delete_security_group(call.flavor, call.region, call.params["sg_id"])
        return Response(status_code=204)

    def create_key_pair(self, call: Call) -> Response:
        body = call.parse(KeyPairBody)
        key, private_key, new = self.resources.create_key_pair(call.flavor, call.region, body)
        payload = _key_pair(key)
        if private_key is not None:
            payload["private_key"] = private_key
        return _created(payload, new)

    def list_key_pairs(self, call: Call) -> Response:
        return _json([_key_pair(k) for k in self.store.key_pairs(call.flavor, call.region)])

    def delete_key_pair(self, call: Call) -> Response:
        self.resources.delete_key_pair(call.flavor, call.region, call.params["name"])
        return Response(status_code=204)

    # VMs

    def create_vm(self, call: Call) -> Response:
        vm, new = self.engine.create_vm(call.flavor, call.region, call.parse(VmBody))
        return _created(self._vm(vm), new)

    def create_vms(self, call: Call) -> Response:
        """Each body as `create_vm` would take it, in one transaction (see the module doc)."""
        bodies = [_vm_body(item) for item in call.parse(VmBatchBody).vms]
        valid = [body for body in bodies if isinstance(body, VmBody)]
        made = iter(self.engine.create_vms(call.flavor, call.region, valid))
        results: list[Json] = []
        for body in bodies:
            outcome = body if isinstance(body, ApiError) else next(made)
            if isinstance(outcome, ApiError):
                results.append(_error(outcome))
            else:
                vm, new = outcome
                results.append({"status": 201 if new else 200, "vm": self._vm(vm)})
        return _json({"results": results})

    def act_on_vms(self, call: Call) -> Response:
        """One action on each id as `act` would take it, in one transaction."""
        body = call.parse(VmActionBody)
        done = self.engine.act_on_vms(call.flavor, call.region, body.action, body.ids)
        return _json(
            {
                "results": [
                    _error(vm)
                    if isinstance(vm, ApiError)
                    else {"status": 202, "vm": None if vm is None else self._vm(vm)}
                    for vm in done
                ]
            }
        )

    def list_vms(self, call: Call) -> Response:
        vms = self.engine.vms(call.tags, flavor=call.flavor, region=call.region)
        return _json([self._vm(vm) for vm in vms])

    def get_vm(self, call: Call) -> Response:
        return _json(self._vm(self.engine.vm(call.flavor, call.region, call.params["vm_id"])))

    def act(self, action: str, call: Call) -> Response:
        vm = self.engine.act(call.flavor, call.region, call.params["vm_id"], action)
        return _json(self._vm(vm), 202)

    def _metrics(self, vm: Vm) -> Json:
        usage = asdict(self.engine.backend.usage(vm))
        return {**usage, "sampled_at": _time(usage["sampled_at"])}

    def vm_metrics(self, call: Call) -> Response:
        return _json(self._metrics(self.engine.vm(call.flavor, call.region, call.params["vm_id"])))

    def region_metrics(self, call: Call) -> Response:
        """The metrics of every VM `list_vms` would list, each with its id, in one answer."""
        vms = self.engine.vms(call.tags, flavor=call.flavor, region=call.region)
        return _json([{"id": vm.id, **self._metrics(vm)} for vm in vms])

    def latency(self, call: Call) -> Response:
        return _json(self.rtt.as_json())

    # admin

    def health(self, call: Call) -> Response:
        return _json({"ok": True, "backend": self.engine.backend.name, "flavors": list(FLAVORS)})

    def all_vms(self, call: Call) -> Response:
        return _json([self._vm(vm) for vm in self.engine.vms(call.tags)])

    def get_faults(self, call: Call) -> Response:
        return _json({"faults": [asdict(f) for f in self.store.faults()]})

    def put_faults(self, call: Call) -> Response:
        self.faults.put(FaultSetting(**call.parse(FaultBody).model_dump()))
        return self.get_faults(call)

    def clear_faults(self, call: Call) -> Response:
        self.store.clear("faults")
        self.faults.clear_refusals()
        return self.get_faults(call)

    def get_refusals(self, call: Call) -> Response:
        return _json({"refusals": self.faults.refusals()})

    def put_refusals(self, call: Call) -> Response:
        self.faults.put_refusal(call.parse(RefusalBody))
        return self.get_refusals(call)

    def get_timings(self, call: Call) -> Response:
        return _json(
            {
                "time_scale": self.engine.time_scale,
                "overrides": [asdict(o) for o in self.store.timings()],
                "effective": {name: asdict(self.engine.timings(name)) for name in FLAVORS},
            }
        )

    def put_timings(self, call: Call) -> Response:
        self.engine.override_timings(call.parse(TimingBody))
        return self.get_timings(call)

    def clear_timings(self, call: Call) -> Response:
        self.store.clear("timings")
        return self.get_timings(call)

    def stats(self, call: Call) -> Response:
        self.engine.settle_all()
        counts = self.store.counts()
        return _json(
            {
                **asdict(counts),
                "requests": {"served": self.served, **self.faults.injected},
            }
        )

    def simulate_load(self, call: Call) -> Response:
        body = call.parse(SimulatedLoadBody)
        backend = self.engine.backend
        if not isinstance(backend, PhantomBackend):
            raise invalid("these VMs are real: make real load on them (mcis load)")
        vms = self.engine.vms(body.tags)
        backend.simulate_load([vm.id for vm in vms], body.cpu_percent)
        return _json({"vms": len(vms), "cpu_percent": body.cpu_percent})

    def reset(self, call: Call) -> Response:
        self.store.clear()
        self.engine.backend.restore([], wait=True)
        self.faults.clear_refusals()
        self.faults.reset_counts()
        self.served = 0
        return _json({"ok": True})

    def _live_vm_ids(self) -> set[str]:
        return {vm.id for vm in self.store.vms({}, None, with_terminated=False)}

    def check_leaks(self, call: Call) -> Response:
        return _json(self.doctor.check(self._live_vm_ids()).as_json())

    def clean_leaks(self, call: Call) -> Response:
        return _json(self.doctor.clean(self._live_vm_ids()).as_json())


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    headers = {} if exc.retry_after is None else {"Retry-After": f"{exc.retry_after:g}"}
    body = {"error": {"code": exc.code, "message": exc.message}}
    return JSONResponse(body, status_code=exc.status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = "NotFound" if exc.status_code == 404 else "InvalidParameter"
    error = ApiError(exc.status_code, code, f"{request.method} {request.url.path}: {exc.detail}")
    return await _api_error(request, error)


async def _internal_error(request: Request, exc: Exception) -> Response:
    error = ApiError(500, "InternalError", f"{type(exc).__name__}: {exc}")
    return await _api_error(request, error)


async def _settle_forever(store: CloudState, engine: Engine) -> None:
    while True:
        await asyncio.sleep(SETTLE_INTERVAL_S)
        try:
            with store.transaction():
                engine.settle_all()
        except Exception:
            log.exception("settling VMs failed")


def create_app(
    db_path: str | Path,
    *,
    time_scale: float = 1.0,
    seed: int | None = None,
    backend: VmBackend | None = None,
    clock: Callable[[], float] = time.time,
    rtt: LinkDelays | None = None,
    destroy_on_exit: bool = False,
) -> Starlette:
    """The local cloud as an ASGI app over the SQLite database at `db_path`. Its real VMs
    (if `backend` makes any) keep running when it stops, unless `destroy_on_exit`."""
    store = CloudState(db_path)
    faults = Faults(store, random.Random(seed))
    engine = Engine(store, faults, backend or PhantomBackend(), time_scale, clock)
    doctor = Doctor(Layout.of(db_path), Cgroups.here())
    api = Api(store, engine, faults, clock, rtt or LinkDelays.load(), doctor)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        with store.transaction():
            engine.restore_backend()
        real = engine.backend.real
        ticker = asyncio.create_task(_settle_forever(store, engine)) if real else None
        try:
            yield
        finally:
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
            if destroy_on_exit:
                engine.backend.restore([], wait=True)
            engine.backend.close()
            store.close()

    return Starlette(
        routes=api.routes(),
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
        lifespan=lifespan,
    )
