"""`python -m roomctl`: the same as the `roomctl` command."""

from roomctl.cli.handoff import entry

raise SystemExit(entry())
