"""``python -m stratops``: the same as the ``stratops`` command."""

from stratops.cli.main import main

main()
