"""The `mcis` command line: starts workflows, reads their status, manages the embedded stack."""
