"""Errors the store raises. Each carries a one-line message naming the thing concerned, fit to
show a user as is (e.g. "namespace 'dev' already exists")."""

from __future__ import annotations


class StoreError(Exception):
    """Something the store cannot do; the message says what and why."""


class AlreadyExistsError(StoreError):
    """The thing to create exists already."""


class NotFoundError(StoreError):
    """The thing asked for does not exist."""


class InUseError(StoreError):
    """The thing to delete is still used by others."""
