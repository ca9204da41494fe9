"""`python -m confpy` runs the command line."""

from confpy.cli import main

raise SystemExit(main())
