"""The reconciliation engine for Levels 2 and 3: pure functions from both sides' state to a plan.

- :mod:`~pleo_erp.domain.reconcile.plan` — :class:`Plan`, :class:`Action`, ordering, the
  mass-archive safety rule;
- :mod:`~pleo_erp.domain.reconcile.tags` — dimensions → tag groups, values → tags;
- :mod:`~pleo_erp.domain.reconcile.accounts` — chart of accounts;
- :mod:`~pleo_erp.domain.reconcile.tax_codes` — tax codes.

No I/O here: the orchestrators in :mod:`pleo_erp.orchestration.sync` read, call these, and apply.
"""

from pleo_erp.domain.reconcile import plan as _plan
from pleo_erp.domain.reconcile.accounts import AccountPlanOptions, plan_accounts
from pleo_erp.domain.reconcile.errors import (
    DuplicateExternalId,
    DuplicateSourceKey,
    MassArchiveRefused,
    ReconcileError,
    SelectionError,
)
from pleo_erp.domain.reconcile.plan import *  # noqa: F403  (every plan name: its __all__)
from pleo_erp.domain.reconcile.tags import (
    MAX_SELECTED_DIMENSIONS,
    GroupBinding,
    SelectionOutcome,
    TagSyncPlan,
    auto_select,
    choose_keeper,
    codes_match,
    plan_tag_groups,
    plan_tag_sync,
    plan_tags,
    resolve_selection,
    validate_selection,
)
from pleo_erp.domain.reconcile.tax_codes import plan_tax_codes

__all__ = [
    *_plan.__all__,
    "MAX_SELECTED_DIMENSIONS",
    "AccountPlanOptions",
    "DuplicateExternalId",
    "DuplicateSourceKey",
    "GroupBinding",
    "MassArchiveRefused",
    "ReconcileError",
    "SelectionError",
    "SelectionOutcome",
    "TagSyncPlan",
    "auto_select",
    "choose_keeper",
    "codes_match",
    "plan_accounts",
    "plan_tag_groups",
    "plan_tag_sync",
    "plan_tags",
    "plan_tax_codes",
    "resolve_selection",
    "validate_selection",
]
