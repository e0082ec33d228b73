"""Reading an MCIS request from a YAML/JSON file or the `--group SPEC,IMAGE,COUNT` short form,
and checking it against the namespace, the catalog and the store before any workflow starts."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from drivers.errors import CloudError, CloudNotFoundError
from drivers.retry import retrying
from models.mcis import GroupRequest, McisRequest, PartialFailurePolicy
from models.records import ResourceKind
from starter.context import Context
from starter.documents import load_mapping
from starter.errors import FAILED, CliError, validation_message


def load_request_file(path: str) -> McisRequest:
    return parse_request(load_mapping(path, "request"))


def parse_request(data: dict[str, Any]) -> McisRequest:
    try:
        return McisRequest.model_validate(data)
    except ValidationError as exc:
        raise CliError(validation_message(exc, "MCIS request")) from None


def request_from_groups(name: str, groups: list[str], description: str, policy: str) -> McisRequest:
    """`--group SPEC_ID,IMAGE_ID,COUNT` (repeatable) -> groups g1, g2, ..."""
    parsed = []
    for index, text in enumerate(groups, start=1):
        parts = text.split(",")
        if len(parts) != 3:
            raise CliError(f"--group {text!r}: expected SPEC_ID,IMAGE_ID,COUNT")
        spec, image, count = (p.strip() for p in parts)
        if not count.isdigit():
            raise CliError(f"--group {text!r}: COUNT must be a whole number, got {count!r}")
        parsed.append({"name": f"g{index}", "spec": spec, "image": image, "count": int(count)})
    if not parsed:
        raise CliError("give the VM groups with -f FILE or --group SPEC_ID,IMAGE_ID,COUNT")
    return parse_request(
        {"name": name, "description": description, "on_partial_failure": policy, "groups": parsed}
    )


POLICIES = [p.value for p in PartialFailurePolicy]


async def check_request(ctx: Context, namespace: str, request: McisRequest) -> None:
    """Raise CliError unless every name, spec, image and resource exists and the MCIS does not."""
    store = ctx.store
    if store.get_namespace(namespace) is None:
        raise CliError(
            f"namespace {namespace!r} does not exist (create it with `mcis ns create {namespace}`)"
        )
    if store.get_mcis(namespace, request.name) is not None:
        raise CliError(f"MCIS {request.name!r} already exists in namespace {namespace!r}")
    catalog: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
    for group in request.groups:
        await check_group(ctx, namespace, group, catalog)


async def check_group(
    ctx: Context,
    namespace: str,
    group: GroupRequest,
    catalog: dict[tuple[str, str], tuple[set[str], set[str]]] | None = None,
) -> None:
    """Raise CliError unless the group's spec, image and (static) resources exist."""
    catalog = {} if catalog is None else catalog
    key = (group.provider, group.region)
    if key not in catalog:
        catalog[key] = await _region_catalog(ctx, *key)
    specs, images = catalog[key]
    where = f"--provider {group.provider} --region {group.region}"
    if group.spec.name not in specs:
        raise CliError(
            f"group {group.name!r}: unknown spec {group.spec!r} (see `mcis catalog specs {where}`)"
        )
    if group.image.name not in images:
        raise CliError(
            f"group {group.name!r}: unknown image {group.image!r} "
            f"(see `mcis catalog images {where}`)"
        )
    if group.is_static:
        _check_static(ctx, namespace, group)


async def _region_catalog(ctx: Context, provider: str, region: str) -> tuple[set[str], set[str]]:
    driver = ctx.driver(provider)
    try:
        regions = {r.name for r in await retrying(driver.regions)}
        if region not in regions:
            raise CliError(
                f"unknown region {region!r} of cloud {provider!r} "
                f"(known: {', '.join(sorted(regions))})"
            )
        specs = {s.name for s in await retrying(lambda: driver.specs(region))}
        images = {i.name for i in await retrying(lambda: driver.images(region))}
    except CloudNotFoundError as exc:
        raise CliError(exc.message) from None
    except CloudError as exc:
        raise CliError(f"cloud {provider!r}: {exc.message}", FAILED) from None
    return specs, images


def _check_static(ctx: Context, namespace: str, group: GroupRequest) -> None:
    wanted = [(ResourceKind.VNET, group.vnet or "")]
    wanted += [(ResourceKind.SECURITY_GROUP, sg) for sg in group.security_groups or []]
    wanted += [(ResourceKind.SSH_KEY, group.ssh_key or "")]
    for kind, name in wanted:
        found = ctx.store.get_resource(namespace, kind, name)
        if found is None:
            raise CliError(
                f"group {group.name!r}: {kind.value} {name!r} does not exist in namespace "
                f"{namespace!r}"
            )
        if (found.provider, found.region) != (group.provider, group.region):
            raise CliError(
                f"group {group.name!r}: {kind.value} {name!r} is in "
                f"{found.provider}/{found.region}, the group in {group.provider}/{group.region}"
            )
