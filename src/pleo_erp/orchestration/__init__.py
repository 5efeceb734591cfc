"""One orchestrator per integration level: they combine the client, the domain and the vendor's
accounting system, and return a typed report.

- Level 1: :func:`export_expenses` (the whole queue, oldest job first) and :func:`process_job`
  (one job, e.g. from a webhook).
- Level 2: :func:`sync_tags`.
- Level 3: :func:`sync_tax_codes` then :func:`sync_accounts` (or both at once with
  :func:`sync_chart_of_accounts`).
- ``async`` twins of the syncs, taking an ``AsyncPleoClient``: :func:`sync_tags_async`,
  :func:`sync_tax_codes_async`, :func:`sync_accounts_async`,
  :func:`sync_chart_of_accounts_async`; a sync and its twin take the same keywords, one
  ``TypedDict`` per sync (:class:`TagsSyncOptions` …).
- All of them on their cadence: :class:`ConnectorSchedule` (the host's loop calls
  ``run_pending()``; ``sync_now(level)`` runs one level ad hoc).
"""

from pleo_erp.orchestration.export import (
    export_expenses,
    export_expenses_async,
    process_job,
    process_job_async,
)
from pleo_erp.orchestration.locks import (
    CompanyLock,
    ExportAlreadyRunning,
    InProcessLock,
    SQLiteCompanyLock,
)
from pleo_erp.orchestration.report import ExportReport, ItemResult, JobReport, ProgressEvent
from pleo_erp.orchestration.schedule import (
    ConnectorSchedule,
    LevelRun,
    ScheduleConfig,
    ScheduledLevel,
)
from pleo_erp.orchestration.sync import (
    SyncAlreadyRunning,
    sync_accounts,
    sync_chart_of_accounts,
    sync_tags,
    sync_tax_codes,
)
from pleo_erp.orchestration.sync_async import (
    sync_accounts_async,
    sync_chart_of_accounts_async,
    sync_tags_async,
    sync_tax_codes_async,
)
from pleo_erp.orchestration.sync_options import (
    AccountsSyncOptions,
    ChartOfAccountsSyncOptions,
    SyncOptions,
    TagsSyncOptions,
    TaxCodesSyncOptions,
)
from pleo_erp.orchestration.sync_report import SyncProgress, SyncReport, SyncScope

__all__ = [
    "AccountsSyncOptions",
    "ChartOfAccountsSyncOptions",
    "CompanyLock",
    "ConnectorSchedule",
    "ExportAlreadyRunning",
    "ExportReport",
    "InProcessLock",
    "ItemResult",
    "JobReport",
    "LevelRun",
    "ProgressEvent",
    "SQLiteCompanyLock",
    "ScheduleConfig",
    "ScheduledLevel",
    "SyncAlreadyRunning",
    "SyncOptions",
    "SyncProgress",
    "SyncReport",
    "SyncScope",
    "TagsSyncOptions",
    "TaxCodesSyncOptions",
    "export_expenses",
    "export_expenses_async",
    "process_job",
    "process_job_async",
    "sync_accounts",
    "sync_accounts_async",
    "sync_chart_of_accounts",
    "sync_chart_of_accounts_async",
    "sync_tags",
    "sync_tags_async",
    "sync_tax_codes",
    "sync_tax_codes_async",
]
