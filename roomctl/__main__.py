"""`python -m roomctl`: the same as the `roomctl` command."""

from roomctl.cli.main import main

raise SystemExit(main())
