"""`python -m starter ...` is the `mcis` command."""

from starter.cli import main

main()
