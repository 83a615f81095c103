"""``python -m floorwatch``: the same as the ``floorwatch`` command."""

from floorwatch.cli import main

raise SystemExit(main())
