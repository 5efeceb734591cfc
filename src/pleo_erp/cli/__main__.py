"""``python -m pleo_erp.cli``: the same as the ``pleo-erp`` command."""

from pleo_erp.cli import main

raise SystemExit(main())
