"""``python -m agents.models train ...``: see `agents.models.training`."""

from agents.models.training import main

raise SystemExit(main())
