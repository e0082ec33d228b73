"""Persistence of mcis: `Store` keeps namespaces, resources, encrypted secrets, MCIS and VMs in
SQLite (default) or PostgreSQL, taking and returning the records of `models.records`."""

from store.changes import VmChanges
from store.errors import AlreadyExistsError, InUseError, NotFoundError, StoreError
from store.repository import Store

__all__ = [
    "AlreadyExistsError",
    "InUseError",
    "NotFoundError",
    "Store",
    "StoreError",
    "VmChanges",
]
