"""``python -m dronesr`` is the ``dronesr`` command."""

from dronesr.cli.main import main

raise SystemExit(main())
