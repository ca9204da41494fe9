"""One module per confpy subcommand: each has `register(subparsers)` and `run(args) -> int`."""
