"""The Pleo side of a check: a sandbox with the demo company, exports into it, expectations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal
from uuid import UUID

from attrs import define

from pleo_erp.accounting_system.export import Capabilities, ExportTarget
from pleo_erp.domain.config import ExportConfig
from pleo_erp.orchestration.export import export_expenses
from pleo_erp.orchestration.report import ExportReport
from pleo_erp.testing.sandbox import PleoSandbox
from pleo_erp.testing.sandbox.demo import DemoData

__all__ = [
    "CLOSED_PERIOD_FAILURE",
    "DemoWorld",
    "ItemExpectation",
    "describe_item",
    "expected_outcomes",
]

JSON = dict[str, Any]

#: The failure type the demo expects for its item dated in a closed period.
CLOSED_PERIOD_FAILURE = "accounting_system_validation_failure"
#: The failure type the demo expects for its item tagged with a department the AS lacks.
TAG_UNKNOWN_FAILURE = "tag_unknown"


@define(frozen=True, slots=True)
class ItemExpectation:
    """What Pleo should show for one demo item after a complete, correct export.

    ``status`` is ``successful`` or ``failed`` (with ``failure_type``), or ``not_exported``
    when the whole job is expected to fail (nothing may be posted for it).
    """

    job_id: str
    status: Literal["successful", "failed", "not_exported"]
    failure_type: str | None = None


def expected_outcomes(
    demo: DemoData,
    capabilities: Capabilities,
    *,
    closed_periods: bool,
    closed_period_policy: str = "fail",
    dimensions: bool = True,
) -> tuple[dict[str, str], dict[str, ItemExpectation]]:
    """Expected job statuses and item outcomes of the demo queue for this adapter.

    A job with vendor-based bookkeeping fails as a whole when the adapter has no accounts
    payable support (the export refuses it up front). The closed-period item succeeds when
    the AS has no periods or the policy moves its date; the item tagged with an unknown
    department succeeds when the AS has no dimensions (the adapter ignores tags).
    """
    jobs: dict[str, str] = {}
    items: dict[str, ItemExpectation] = {}
    for demo_job in demo.jobs:
        job_id = str(demo_job.job["id"])
        refused = bool(demo_job.job.get("vendorBasedBookkeeping")) and (
            not capabilities.supports_accounts_payable
        )
        failures = 0
        for item in demo_job.items:
            aeid = str(item["accountingEntryId"])
            expected = demo.expected_failures.get(aeid)
            if expected == CLOSED_PERIOD_FAILURE and (
                not closed_periods or closed_period_policy != "fail"
            ):
                expected = None
            if expected == TAG_UNKNOWN_FAILURE and not dimensions:
                expected = None
            if refused:
                items[aeid] = ItemExpectation(job_id, "not_exported")
            elif expected is not None:
                failures += 1
                items[aeid] = ItemExpectation(job_id, "failed", expected)
            else:
                items[aeid] = ItemExpectation(job_id, "successful")
        if refused:
            jobs[job_id] = "failed"
        elif failures == 0:
            jobs[job_id] = "completed"
        else:
            jobs[job_id] = "completed_with_errors"
    return jobs, items


class DemoWorld:
    """A fresh sandbox with the demo company, and exports into it with sandbox time."""

    def __init__(self, seed: int = 1) -> None:
        self.sandbox = PleoSandbox(seed=seed)
        self.demo = self.sandbox.seed_demo()
        self.company_id = UUID(self.demo.company_id)
        self.client = self.sandbox.client()

    def close(self) -> None:
        """Close the client."""
        self.client.close()

    def __enter__(self) -> DemoWorld:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def export(
        self, target: ExportTarget, config: ExportConfig | None = None, **kwargs: Any
    ) -> ExportReport:
        """Run :func:`export_expenses` for the demo company on sandbox time."""
        return export_expenses(
            self.client,
            target,
            company_id=self.company_id,
            config=config,
            clock=self.sandbox.clock.now,
            sleep=self.sandbox.clock.sleep,
            **kwargs,
        )

    def job_ids(self) -> list[str]:
        """Every job of the demo company, oldest first."""
        return [str(job["id"]) for job in self.sandbox.jobs(str(self.company_id))]

    def job_statuses(self) -> dict[str, str]:
        """Job id → status."""
        return {
            str(job["id"]): str(job["status"]) for job in self.sandbox.jobs(str(self.company_id))
        }

    def open_jobs(self) -> list[str]:
        """Jobs still ``pending`` or ``in_progress``."""
        return [j for j, s in self.job_statuses().items() if s in ("pending", "in_progress")]

    def job_items(self, job_id: str) -> list[JSON]:
        """The ``ExportJobItemV3`` objects of one job."""
        return self.sandbox.job_items(job_id)

    def items_by_entry(self, job_ids: Iterable[str] | None = None) -> dict[str, JSON]:
        """``accountingEntryId`` → job item, for the given jobs (default: all; later wins)."""
        out: dict[str, JSON] = {}
        for job_id in job_ids if job_ids is not None else self.job_ids():
            for item in self.job_items(job_id):
                out[str(item["accountingEntryId"])] = item
        return out

    def export_item(self, accounting_entry_id: str) -> JSON:
        """The stored ``ExportItemV3`` of one entry."""
        for demo_job in self.demo.jobs:
            for item in demo_job.items:
                if str(item["accountingEntryId"]) == accounting_entry_id:
                    return item
        raise KeyError(accounting_entry_id)

    def reexport(self, entry_ids: list[str], *, vendor_based: bool) -> str:
        """A new job holding already exported entries again (Pleo's "re-export")."""
        items = [self.export_item(aeid) for aeid in entry_ids]
        return self.sandbox.create_export_job(
            str(self.company_id), items, vendor_based_bookkeeping=vendor_based
        )

    def write_requests(self) -> int:
        """Requests in the sandbox log that could change something.

        Reads are ``GET`` and the ``POST …:search`` query endpoints (accounts, tax codes).
        """
        return sum(
            1
            for r in self.sandbox.requests
            if r.method.upper() not in ("GET", "HEAD") and not r.path.endswith(":search")
        )


def describe_item(item: Mapping[str, Any]) -> str:
    """A short human description of a job item for failure messages."""
    status = item.get("status")
    extra = ""
    if status == "failed":
        extra = f" ({item.get('failureReasonType')}: {str(item.get('failureReason'))[:160]})"
    return f"{item.get('accountingEntryId')} is {status}{extra}"
