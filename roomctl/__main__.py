"""`python -m roomctl`: the same as the `roomctl` command."""

from roomctl.cli.handoff import main

raise SystemExit(main())
