"""Namespaces as the CLI (`mcis ns`) and the API (`/v1/namespaces`) both handle them: records
only, no cloud call; every failure is a `CliError` the caller shows its own way."""

from __future__ import annotations

from models.records import NamespaceRecord
from starter.context import Context
from starter.errors import CliError
from starter.views import checked_name
from store.errors import InUseError, StoreError


class NamespaceInUseError(CliError):
    """The namespace still holds MCIS or resources (bad input to the CLI, a conflict to the
    API)."""


def create_namespace(ctx: Context, name: str, description: str = "") -> NamespaceRecord:
    checked_name(name, "namespace")
    try:
        return ctx.store.create_namespace(NamespaceRecord(name=name, description=description))
    except StoreError as exc:
        raise CliError(str(exc)) from None


def list_namespaces(ctx: Context) -> list[NamespaceRecord]:
    return ctx.store.list_namespaces()


def existing_namespace(ctx: Context, name: str) -> NamespaceRecord:
    """The namespace `name`; CliError if the name is invalid or it does not exist."""
    checked_name(name, "namespace")
    record = ctx.store.get_namespace(name)
    if record is None:
        raise CliError(f"namespace {name!r} does not exist")
    return record


def delete_namespace(ctx: Context, name: str) -> None:
    checked_name(name, "namespace")
    try:
        ctx.store.delete_namespace(name)
    except InUseError as exc:
        raise NamespaceInUseError(str(exc)) from None
    except StoreError as exc:
        raise CliError(str(exc)) from None
