"""Cloud drivers: plain async classes (no Temporal import) that talk to one cloud each,
plus the per-cloud mapping of native VM states to canonical ones."""
