"""Driver for the embedded local cloud (`python -m localcloud`): one `LocalCloudDriver` per
flavor, all speaking HTTP to the same service, as a real cloud's driver would (nothing of
`localcloud/` is imported: regions, specs and images come from its API). Also the HTTP plumbing
the admin client shares: one place that turns failed calls into drivers.errors. The driver never
retries.

It is a `BatchVmSource`: `create_vms` and `act_on_vms` are one call each to the cloud's
`vms:batch` and `vms:action` endpoints, whose per-VM errors become the same drivers.errors the
per-VM calls raise (a failure of the call as a whole, throttling included, raises as any call).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

from catalog.entries import Image, Region, Spec
from drivers.errors import (
    CloudError,
    CloudNotFoundError,
    CloudUnreachableError,
    ConflictError,
    InvalidRequestError,
    QuotaExceededError,
    ThrottledError,
    TransientCloudError,
)
from models.cloud import (
    CloudKeyPair,
    CloudSecurityGroup,
    CloudVm,
    CloudVNet,
    FirewallRule,
    SubnetSpec,
    VmAction,
    VmCreateRequest,
    VmMetrics,
)

LOCAL_FLAVORS: tuple[str, ...] = ("aws", "gcp", "azure", "alibaba", "openstack", "cloudit")
"""The clouds the local cloud speaks for, each at `/v1/<flavor>/` (its configuration: the local
cloud's own table, localcloud/flavors.py, is checked against it by
tests/unit/test_localcloud_flavors.py; `GET /healthz` lists them too)."""
TIMEOUT_S = 10.0
DEFAULT_RETRY_AFTER_S = 1.0


def error_from_response(response: httpx.Response) -> CloudError:
    """The drivers.errors exception for a failed answer of the local cloud."""
    status = response.status_code
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = f"HTTP{status}", response.text[:200] or response.reason_phrase
    if status != 429:
        return cloud_error(status, code, message)
    retry_after = float(response.headers.get("Retry-After", DEFAULT_RETRY_AFTER_S))
    return cloud_error(status, code, message, retry_after)


def cloud_error(
    status: int, code: str, message: str, retry_after: float = DEFAULT_RETRY_AFTER_S
) -> CloudError:
    """The drivers.errors exception for an HTTP error status with the cloud's code and message
    (of a whole answer, or of one VM in a batch answer)."""
    if status == 429:
        return ThrottledError(message, retry_after, code)
    if status >= 500:
        return TransientCloudError(message, code)
    if status == 404:
        return CloudNotFoundError(message, code)
    if status == 409 and code == "QuotaExceeded":
        return QuotaExceededError(message, code)
    if status == 409 and code != "IncorrectState":
        return ConflictError(message, code)
    return InvalidRequestError(message, code)


class LocalCloudHttp:
    """JSON over HTTP to the local cloud, failures raised as drivers.errors."""

    def __init__(self, base_url: str, client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = client or httpx.AsyncClient(timeout=TIMEOUT_S)

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: tuple[tuple[str, str], ...] = (),
        missing_ok: bool = False,
    ) -> Any:
        """The decoded JSON answer (None for an empty one, or a 404 when `missing_ok`)."""
        url = self.base_url + path
        try:
            response = await self.client.request(method, url, json=body, params=params)
        except (httpx.ConnectError, httpx.TimeoutException) as exc:
            raise CloudUnreachableError(
                f"local cloud at {url} did not answer: {type(exc).__name__} {exc}".strip(),
                "Unreachable",
            ) from exc
        except httpx.TransportError as exc:
            raise TransientCloudError(
                f"connection to local cloud at {url} broke: {type(exc).__name__} {exc}".strip(),
                "ConnectionLost",
            ) from exc
        if missing_ok and response.status_code == 404:
            return None
        if not response.is_success:
            raise error_from_response(response)
        return response.json() if response.content else None

    async def aclose(self) -> None:
        await self.client.aclose()


def tag_params(tags: dict[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple((f"tag:{key}", value) for key, value in (tags or {}).items())


def cloud_vm(data: dict[str, Any]) -> CloudVm:
    return CloudVm(csp_id=data["id"], **{k: v for k, v in data.items() if k != "id"})


def vm_body(request: VmCreateRequest) -> dict[str, Any]:
    """The local cloud's create body of `request`."""
    return {
        "name": request.name,
        "spec": request.spec,
        "image": request.image,
        "vnet_id": request.vnet_csp_id,
        "subnet_id": request.subnet_csp_id,
        "security_group_ids": request.security_group_csp_ids,
        "key_name": request.key_name,
        "client_token": request.client_token,
        "tags": request.tags,
    }


def batch_result(item: dict[str, Any]) -> CloudVm | CloudError | None:
    """One VM's result in a batch answer: its VM (None when the cloud no longer knows it), or
    the error the per-VM call would have raised."""
    error = item.get("error")
    if error is not None:
        return cloud_error(int(item["status"]), str(error["code"]), str(error["message"]))
    vm = item.get("vm")
    return None if vm is None else cloud_vm(vm)


def batch_results(answer: Any, expected: int) -> list[CloudVm | CloudError | None]:
    """The per-VM results of a batch answer, checked to be one per VM asked about."""
    items = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(items, list) or len(items) != expected:
        got = len(items) if isinstance(items, list) else "no"
        raise TransientCloudError(
            f"batch answer has {got} results for {expected} VMs", "MalformedAnswer"
        )
    return [batch_result(item) for item in items]


class LocalCloudDriver:
    """The CloudDriver of one local cloud flavor (provider = flavor name)."""

    def __init__(
        self, provider: str, base_url: str, client: httpx.AsyncClient | None = None
    ) -> None:
        self.provider = provider
        self._http = LocalCloudHttp(base_url, client)

    def _at(self, region: str, *parts: str) -> str:
        path = "/".join(quote(part, safe="") for part in (region, *parts))
        return f"/v1/{self.provider}/regions/{path}"

    async def _catalog(self, kind: str, region: str | None) -> list[dict[str, Any]]:
        params = () if region is None else (("region", region),)
        items: list[dict[str, Any]] = await self._http.call(
            "GET", f"/v1/{self.provider}/{kind}", params=params
        )
        return items

    async def regions(self) -> list[Region]:
        return [Region(**r) for r in await self._catalog("regions", None)]

    async def specs(self, region: str | None = None) -> list[Spec]:
        return [Spec(**s) for s in await self._catalog("specs", region)]

    async def images(self, region: str | None = None) -> list[Image]:
        return [Image(**i) for i in await self._catalog("images", region)]

    async def ensure_vnet(
        self,
        region: str,
        name: str,
        cidr: str,
        subnets: Sequence[SubnetSpec],
        tags: dict[str, str],
    ) -> CloudVNet:
        body = {
            "name": name,
            "cidr": cidr,
            "subnets": [s.model_dump() for s in subnets],
            "tags": tags,
        }
        vnet = await self._http.call("POST", self._at(region, "vnets"), body=body)
        return CloudVNet(
            csp_id=vnet["id"],
            name=vnet["name"],
            provider=self.provider,
            region=region,
            cidr=vnet["cidr"],
            subnets={s["name"]: s["id"] for s in vnet["subnets"]},
            tags=vnet["tags"],
        )

    async def delete_vnet(self, region: str, csp_id: str) -> None:
        await self._http.call("DELETE", self._at(region, "vnets", csp_id), missing_ok=True)

    async def ensure_security_group(
        self,
        region: str,
        name: str,
        vnet_csp_id: str,
        rules: Sequence[FirewallRule],
        tags: dict[str, str],
    ) -> CloudSecurityGroup:
        body = {
            "name": name,
            "vnet_id": vnet_csp_id,
            "rules": [r.model_dump() for r in rules],
            "tags": tags,
        }
        group = await self._http.call("POST", self._at(region, "security-groups"), body=body)
        return CloudSecurityGroup(
            csp_id=group["id"],
            name=group["name"],
            provider=self.provider,
            region=region,
            vnet_csp_id=group["vnet_id"],
            rules=[FirewallRule(**r) for r in group["rules"]],
            tags=group["tags"],
        )

    async def delete_security_group(self, region: str, csp_id: str) -> None:
        path = self._at(region, "security-groups", csp_id)
        await self._http.call("DELETE", path, missing_ok=True)

    async def import_key_pair(
        self, region: str, name: str, public_key: str, tags: dict[str, str]
    ) -> CloudKeyPair:
        body = {"name": name, "public_key": public_key, "tags": tags}
        key = await self._http.call("POST", self._at(region, "keypairs"), body=body)
        return CloudKeyPair(
            name=key["name"], provider=self.provider, region=region, fingerprint=key["fingerprint"]
        )

    async def delete_key_pair(self, region: str, name: str) -> None:
        await self._http.call("DELETE", self._at(region, "keypairs", name), missing_ok=True)

    async def create_vm(self, region: str, request: VmCreateRequest) -> CloudVm:
        body = vm_body(request)
        return cloud_vm(await self._http.call("POST", self._at(region, "vms"), body=body))

    async def create_vms(
        self, region: str, requests: Sequence[VmCreateRequest]
    ) -> list[CloudVm | CloudError]:
        """Per request, in order: its VM (created now, or the one its client token already
        made), or the CloudError that refused this VM alone. A failure of the whole call raises
        (as create_vm does)."""
        if not requests:
            return []
        body = {"vms": [vm_body(request) for request in requests]}
        answer = await self._http.call("POST", self._at(region) + "/vms:batch", body=body)
        results: list[CloudVm | CloudError] = []
        for result in batch_results(answer, len(requests)):
            if result is None:  # the cloud answers a VM for every create it accepts
                raise TransientCloudError("batch create answered no VM", "MalformedAnswer")
            results.append(result)
        return results

    async def act_on_vms(
        self, region: str, action: VmAction, csp_ids: Sequence[str]
    ) -> list[CloudVm | CloudError | None]:
        """Per id, in order: the VM after the action was accepted (for terminate: as a read
        right after, None when the cloud no longer knows it), or the CloudError refusing it for
        this VM alone. A failure of the whole call raises. As `terminate_vm`, a terminate of a
        VM the cloud no longer knows (NotFound) is None, not an error."""
        if not csp_ids:
            return []
        action = VmAction(action)
        body = {"action": action.value, "ids": list(csp_ids)}
        answer = await self._http.call("POST", self._at(region) + "/vms:action", body=body)
        results = batch_results(answer, len(csp_ids))
        if action is VmAction.TERMINATE:
            return [None if isinstance(r, CloudNotFoundError) else r for r in results]
        return results

    async def get_vm(self, region: str, csp_id: str) -> CloudVm | None:
        vm = await self._http.call("GET", self._at(region, "vms", csp_id), missing_ok=True)
        return None if vm is None else cloud_vm(vm)

    async def list_vms(self, region: str, tags: dict[str, str] | None = None) -> list[CloudVm]:
        path = self._at(region, "vms")
        return [cloud_vm(vm) for vm in await self._http.call("GET", path, params=tag_params(tags))]

    async def _act(self, region: str, csp_id: str, action: str) -> CloudVm:
        return cloud_vm(await self._http.call("POST", self._at(region, "vms", csp_id, action)))

    async def suspend_vm(self, region: str, csp_id: str) -> CloudVm:
        return await self._act(region, csp_id, "suspend")

    async def resume_vm(self, region: str, csp_id: str) -> CloudVm:
        return await self._act(region, csp_id, "resume")

    async def reboot_vm(self, region: str, csp_id: str) -> CloudVm:
        return await self._act(region, csp_id, "reboot")

    async def terminate_vm(self, region: str, csp_id: str) -> None:
        path = self._at(region, "vms", csp_id, "terminate")
        await self._http.call("POST", path, missing_ok=True)

    async def vm_metrics(self, region: str, csp_id: str) -> VmMetrics:
        """CPU, memory and traffic of the VM, sampled about every second (zeros for phantom
        VMs); CloudNotFoundError when the VM is gone."""
        path = self._at(region, "vms", csp_id, "metrics")
        return VmMetrics.model_validate(await self._http.call("GET", path))

    async def region_metrics(self, region: str, tags: dict[str, str]) -> dict[str, VmMetrics]:
        """What `vm_metrics` reads, for every VM of the region with `tags`, in one call."""
        path = self._at(region, "metrics")
        items = await self._http.call("GET", path, params=tag_params(tags))
        return {item["id"]: VmMetrics.model_validate(item) for item in items}

    async def aclose(self) -> None:
        """Close the HTTP client (shared by all drivers from `local_drivers`: closes them all)."""
        await self._http.aclose()


def local_drivers(base_url: str) -> dict[str, LocalCloudDriver]:
    """A driver per local cloud flavor, all sharing one HTTP client."""
    client = httpx.AsyncClient(timeout=TIMEOUT_S)
    return {name: LocalCloudDriver(name, base_url, client) for name in LOCAL_FLAVORS}
