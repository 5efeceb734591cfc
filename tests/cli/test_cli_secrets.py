"""No command ever prints a secret: not the API key, the OAuth client secret or the webhook
secret — on success, on failure, in ``--json`` output, or in ``--verbose`` debug logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import SENTINEL, cli, make_ledger, served_demo

pytestmark = pytest.mark.http

CLIENT_SECRET = "cs_SENTINEL_client_secret_abcdef"
WEBHOOK_SECRET = "whsec_U0VOVElORUxfd2ViaG9va19zZWNyZXRfMTIzNDU2"

COMMANDS: list[tuple[list[str], str]] = [
    (["config", "show"], ""),
    (["config", "show", "--json"], ""),
    (["auth", "status"], ""),
    (["auth", "status", "--json", "-v"], ""),
    (["auth", "set-key", "--no-verify"], SENTINEL),
    (["auth", "set-key"], SENTINEL),
    (["auth", "logout"], ""),
    (["auth", "login", "--client-id", "cid", "--no-browser", "--timeout", "0.01"], ""),
    (["sync-accounts", "--dry-run"], ""),
    (["sync-accounts", "-v"], ""),
    (["sync-tags", "--json"], ""),
    (["sync-tax-codes", "--dry-run", "--json"], ""),
    (["export"], ""),
    (["export", "--json", "-v"], ""),
    (["webhook", "serve", "--port", "99999"], ""),
    (["sync-tags", "--company-id", "not-a-uuid"], ""),
    (["export", "--adapter", "no_such_module:factory"], ""),
]


@pytest.mark.parametrize(("argv", "stdin"), COMMANDS, ids=lambda v: " ".join(v) if v else "-")
def test_sentinel_secrets_never_printed(tmp_path: Path, argv: list[str], stdin: str) -> None:
    with served_demo() as served:
        ledger = make_ledger(tmp_path, served.demo)
        env = served.env(
            PLEO_API_KEY=SENTINEL,
            PLEO_CLIENT_SECRET=CLIENT_SECRET,
            PLEO_WEBHOOK_SECRET=WEBHOOK_SECRET,
            PLEO_LEDGER=str(ledger),
        )
        result = cli(tmp_path, *argv, env=env, stdin=stdin)
    assert result.code in (0, 2, 3), (argv, result.code, result.err)
    for secret in (SENTINEL, CLIENT_SECRET, WEBHOOK_SECRET, WEBHOOK_SECRET[len("whsec_") :]):
        assert secret not in result.text, argv


def test_a_working_key_is_never_printed_either(tmp_path: Path) -> None:
    with served_demo() as served:
        ledger = make_ledger(tmp_path, served.demo)
        env = served.env(PLEO_LEDGER=str(ledger))
        key = served.sandbox.api_key
        for argv in (
            ["auth", "status", "-v"],
            ["sync-accounts", "--dry-run", "-v"],
            ["sync-tags", "--json", "-v"],
            ["export", "--json", "-v", "--max-jobs", "1"],
        ):
            result = cli(tmp_path, *argv, env=env)
            assert result.code == 0, (argv, result.err)
            assert key not in result.text, argv
