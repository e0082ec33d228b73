"""Tumblebug ids: derived from the names clients give by lowercasing and turning `_` into `-`
(`NS_01` is `ns-01`), so a path segment written either way finds the object; the id is the
mcis name of what it stands for. And the errors routes answer in Tumblebug's words."""

from __future__ import annotations

from api.errors import ApiError
from models.naming import InvalidNameError, check_name


def derive_id(name: str) -> str:
    return name.replace("_", "-").lower()


def checked_id(name: str, what: str) -> str:
    """The id of `name`; 400 with the naming rule when it is no valid mcis name."""
    try:
        return check_name(derive_id(name), f"{what} id")
    except InvalidNameError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None


def not_found(what: str, id: str, where: str = "") -> ApiError:
    """404 `The vNet vnet-01 does not exist` (`in the namespace ns-01` when `where` is given)."""
    return ApiError(
        404, "not_found", f"The {what} {id} does not exist" + (f" {where}" if where else "")
    )


def already_exists(what: str, id: str) -> ApiError:
    return ApiError(409, "conflict", f"The {what} {id} already exists")
