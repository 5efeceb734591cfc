"""The connector's local state on SQLite: OAuth tokens, and (added by their features) the
dimension selection and the export journal.

Open one :class:`StateDB` per file; each feature adds its tables through
:meth:`StateDB.apply_migrations` under its own feature name.
"""

from pleo_erp.state._db import MEMORY, Migration, StateDB, StateError, StateSchemaError
from pleo_erp.state.tokens import TOKENS_FEATURE, SQLiteTokenStore, TokenLockTimeout

__all__ = [
    "MEMORY",
    "TOKENS_FEATURE",
    "Migration",
    "SQLiteTokenStore",
    "StateDB",
    "StateError",
    "StateSchemaError",
    "TokenLockTimeout",
]
