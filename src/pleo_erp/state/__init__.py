"""The connector's local state on SQLite: OAuth tokens, company leases, and (added by their
features) the dimension selection and the export journal.

Open one :class:`StateDB` per file; each feature adds its tables through
:meth:`StateDB.apply_migrations` under its own feature name.
"""

from pleo_erp.state._db import MEMORY, Migration, StateDB, StateError, StateSchemaError
from pleo_erp.state.lease import (
    DEFAULT_LEASE_TTL,
    LEASES_FEATURE,
    InMemoryLeaseStore,
    Lease,
    LeaseBusy,
    LeaseHolder,
    LeaseKeeper,
    LeaseLost,
    LeaseStore,
    SQLiteLeaseStore,
    hold_lease,
    new_owner,
)
from pleo_erp.state.tokens import TOKENS_FEATURE, SQLiteTokenStore, TokenLockTimeout

__all__ = [
    "DEFAULT_LEASE_TTL",
    "LEASES_FEATURE",
    "MEMORY",
    "TOKENS_FEATURE",
    "InMemoryLeaseStore",
    "Lease",
    "LeaseBusy",
    "LeaseHolder",
    "LeaseKeeper",
    "LeaseLost",
    "LeaseStore",
    "Migration",
    "SQLiteLeaseStore",
    "SQLiteTokenStore",
    "StateDB",
    "StateError",
    "StateSchemaError",
    "TokenLockTimeout",
    "hold_lease",
    "new_owner",
]
