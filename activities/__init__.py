"""Temporal activities: thin adapters over drivers, the store and SSH. Each one is safe to run
again after a crash (idempotent), and none returns or logs a secret."""
