"""The connector's local state on SQLite: OAuth tokens, company leases, and (added by their
features) the dimension selection and the export journal.

Open one :class:`StateDB` per file; each feature adds its tables through
:meth:`StateDB.apply_migrations` under its own feature name.
"""

from pleo_erp.state import lease as _lease
from pleo_erp.state._db import (
    MEMORY,
    Migration,
    StateDatabaseDamaged,
    StateDB,
    StateError,
    StateSchemaError,
)
from pleo_erp.state.lease import *  # noqa: F403
from pleo_erp.state.tokens import TOKENS_FEATURE, SQLiteTokenStore, TokenLockTimeout

# The lease names come from its own ``__all__`` (a star import: seen by type checkers).
__all__ = [
    "MEMORY",
    "TOKENS_FEATURE",
    "Migration",
    "SQLiteTokenStore",
    "StateDB",
    "StateDatabaseDamaged",
    "StateError",
    "StateSchemaError",
    "TokenLockTimeout",
    *_lease.__all__,
]
