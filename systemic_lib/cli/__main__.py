"""``python -m systemic_lib.cli``: the ``systemic`` command."""

from systemic_lib.cli import main

main()
