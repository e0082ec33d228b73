"""Temporal workflows: orchestration only. Deterministic, no I/O, no database models;
they exchange the pydantic contracts of models/ with activities."""
