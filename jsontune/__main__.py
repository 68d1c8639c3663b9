"""``python -m jsontune ...`` is the same as the ``jsontune`` console script."""

from jsontune.cli import main

raise SystemExit(main())
