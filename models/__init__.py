"""Pydantic contracts and pure domain rules: no I/O, no database, no Temporal imports.

Everything here is safe to import from workflow code.
"""
