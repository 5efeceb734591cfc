"""The demo company is pinned by a digest: refactoring how it is built must not change it.

``build_demo`` is deterministic for a seed, and every test, benchmark and the ``pleo-erp demo``
CLI rely on *what* it builds (item count, ids, amounts, receipts, expected failures, expected
job statuses), not on how. The digests below were taken from the call-chain implementation
before the scenario became a data table; a change here means the demo company changed, which
must be deliberate (update the digest in the same commit and say why).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from pleo_erp.testing.sandbox import PleoSandbox
from pleo_erp.testing.sandbox.demo import DemoData, build_demo


def _canonical(demo: DemoData) -> dict[str, Any]:
    """Everything a ``DemoData`` carries, as plain JSON (file contents as their SHA-256)."""
    return {
        "company": [demo.company_id, demo.company_name, demo.currency],
        "chart": repr(demo.chart),
        "accounts": demo.accounts,
        "tax_codes": demo.tax_codes,
        "tag_groups": demo.tag_groups,
        "jobs": [{"job": job.job, "items": job.items} for job in demo.jobs],
        "files": {
            file_id: [f.content_type, f.file_name, hashlib.sha256(f.content).hexdigest()]
            for file_id, f in demo.files.items()
        },
        "expected_failures": demo.expected_failures,
        "expected_job_statuses": demo.expected_job_statuses,
        "employees": repr(demo.employees),
        "teams": repr(demo.teams),
        "reference_time": demo.reference_time.isoformat(),
    }


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


# (seed, volume, negative_inflows) -> digest of the whole DemoData.
# Pinned after merging the typed chart (E0 inclusive at 0 %, mapping vocabulary): the same
# values as the call-chain demo of that commit produced.
EXPECTED = {
    (1, None, False): "be1f9f8806d9ab8265a92356395f041247efe2736abfe6f1f262e2e3b4ecb0dd",
    (2, None, False): "bae265334d937d596c748613edfd90dde621d6c7f01a7278559125433f142f0c",
    (1, None, True): "c30d3d1a0273344ba50684460783745b28046b7c6226d29fd04fa043dc82182f",
    (1, 40, False): "666cb55f8954a3c49dc526e90648fc5614ddf1e67c0d4a18666c96b7a7c8558b",
}


@pytest.mark.parametrize(("seed", "volume", "negative"), list(EXPECTED))
def test_demo_company_is_unchanged(seed: int, volume: int | None, negative: bool) -> None:
    demo = build_demo(seed, volume, negative_inflows=negative)
    assert _digest(_canonical(demo)) == EXPECTED[(seed, volume, negative)]


def test_demo_shape_is_unchanged() -> None:
    """The headline numbers, readable when the digest fails."""
    demo = build_demo(1)
    assert [len(job.items) for job in demo.jobs] == [18, 15, 11]
    assert sorted(demo.expected_failures.values()) == sorted(
        [
            "account_unknown",
            "accounting_system_validation_failure",
            "missing_configuration",
            "tag_unknown",
            "tax_code_unknown",
            "validation_failure",
            "vendor_unknown",
        ]
    )
    assert list(demo.expected_job_statuses.values()) == [
        "completed",
        "completed",
        "completed_with_errors",
    ]


def test_seeded_sandbox_serves_the_same_company() -> None:
    """The state a seeded sandbox serves (jobs and their items) is pinned too."""
    sandbox = PleoSandbox()
    demo = sandbox.seed_demo()
    served: list[Any] = []
    with sandbox.http_client() as http:
        for job in demo.jobs:
            job_id = job.job["id"]
            served.append(http.get(f"/v3/export-jobs/{job_id}").json())
            page = http.get("/v3/export-items", params={"job_id": job_id, "limit": 100}).json()
            served.append(page["data"])
    assert _digest(served) == SANDBOX_DIGEST


SANDBOX_DIGEST = "dcef0f624ff2d1ce765d1a3c30ed7dac5592795b3652b0db7656896a052d2b68"


def test_expected_outcomes_come_from_the_scenario_table() -> None:
    """Every item carries its expected outcome in the table; the built company reports the
    same: one expected failure per item with ``expect``, one status per job."""
    from pleo_erp.testing.sandbox._demo_scenario import JOBS

    demo = build_demo(1)
    for spec, job in zip(JOBS, demo.jobs, strict=True):
        assert len(spec.items) == len(job.items)
        assert demo.expected_job_statuses[job.job["id"]] == spec.expected_status
        for item_spec, item in zip(spec.items, job.items, strict=True):
            assert item["type"] == item_spec.type
            assert demo.expected_failures.get(item["accountingEntryId"]) == item_spec.expect
