"""`python -m impactiq`: the command line (see `impactiq.cli`)."""

from impactiq.cli import main

raise SystemExit(main())
