"""``pleo-erp auth``: API key from stdin (never argv) stored 0600, OAuth2 + PKCE login through a
loopback redirect with the state checked (accounts-sync-and-auth.md rules 8-10), status and
logout. The browser is simulated by following the sandbox's authorize redirect."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from pleo_erp.cli import _auth
from pleo_erp.cli._oauth_login import CallbackReceiver, LoginTimeout
from pleo_erp.client.auth import OAuthAuthorizationError, OAuthCallbackError
from tests.helpers.cli import SENTINEL, Served, cli, make_ledger, served_demo

pytestmark = pytest.mark.http


def _state_db(tmp_path: Path) -> Path:
    return tmp_path / "state" / "state.db"


# ---- set-key / status / logout --------------------------------------------------------------


def test_set_key_reads_stdin_checks_and_stores_it_privately(tmp_path: Path) -> None:
    with served_demo() as served:
        key = served.sandbox.issue_api_key(served.company_id)
        env = {"PLEO_BASE_URL": served.base_url}
        saved = cli(tmp_path, "auth", "set-key", env=env, stdin=key + "\n")
        assert saved.code == 0, saved.err
        assert key not in saved.text
        assert served.company_id in saved.out
        if os.name == "posix":
            assert stat.S_IMODE(_state_db(tmp_path).stat().st_mode) == 0o600
        # Later commands use the saved key (and its base URL) with nothing in the environment.
        status = cli(tmp_path, "auth", "status", "--json")
        assert status.code == 0, status.err
        document = status.json()
        assert document["auth_method"] == "API key"
        assert document["company_id"] == served.company_id
        assert document["base_url"] == served.base_url
        assert "saved by `pleo-erp auth`" in document["credential"]
        assert key not in status.text
        ledger = make_ledger(tmp_path, served.demo)
        sync = cli(tmp_path, "sync-tax-codes", "--dry-run", "--ledger", str(ledger))
        assert sync.code == 0, sync.err
        out = cli(tmp_path, "auth", "logout")
        assert out.code == 0
        assert "removed" in out.out
        after = cli(tmp_path, "auth", "status")
        assert after.code == 3
        assert "no Pleo credential" in after.err


def test_set_key_refuses_a_wrong_key_and_saves_nothing(tmp_path: Path) -> None:
    with served_demo() as served:
        env = {"PLEO_BASE_URL": served.base_url}
        refused = cli(tmp_path, "auth", "set-key", env=env, stdin=SENTINEL)
        assert refused.code == 3
        assert "nothing was saved" in refused.err
        assert SENTINEL not in refused.text
        assert cli(tmp_path, "auth", "status", env=env).code == 3
        # --no-verify saves without asking Pleo (offline setup); Pleo refuses it later.
        unchecked = cli(tmp_path, "auth", "set-key", "--no-verify", env=env, stdin=SENTINEL)
        assert unchecked.code == 0
        status = cli(tmp_path, "auth", "status", env=env)
        assert status.code == 3
        assert SENTINEL not in status.text


def test_set_key_needs_a_key_on_stdin(tmp_path: Path) -> None:
    empty = cli(tmp_path, "auth", "set-key", "--no-verify", stdin="\n")
    assert empty.code == 2
    assert "stdin" in empty.err
    spaced = cli(tmp_path, "auth", "set-key", "--no-verify", stdin="two words\n")
    assert spaced.code == 2


def test_environment_key_wins_over_the_saved_one(tmp_path: Path) -> None:
    with served_demo() as served:
        env = {"PLEO_BASE_URL": served.base_url}
        assert cli(tmp_path, "auth", "set-key", "--no-verify", env=env, stdin=SENTINEL).code == 0
        status = cli(
            tmp_path,
            "auth",
            "status",
            "--json",
            env={**env, "PLEO_API_KEY": served.sandbox.api_key},
        )
        assert status.code == 0, status.err
        assert status.json()["credential"] == "env PLEO_API_KEY"


# ---- login ----------------------------------------------------------------------------------


def _browser(
    rewrite: Callable[[dict[str, str]], dict[str, str]] | None = None,
) -> Callable[[str], bool]:
    """A stand-in for the user's browser: approve at the sandbox, then follow the redirect
    back to the CLI's loopback receiver (optionally tampering with its query)."""

    def open_url(url: str) -> bool:
        with httpx.Client(timeout=10) as http:
            approval = http.get(url)
            assert approval.status_code == 302, approval.text
            location = urlsplit(approval.headers["location"])
            query = dict(parse_qsl(location.query))
            if rewrite is not None:
                query = rewrite(query)
            target = location._replace(query=urlencode(query)).geturl()
            http.get(target)
        return True

    return open_url


def _login_env(served: Served) -> dict[str, str]:
    return {
        "PLEO_BASE_URL": served.base_url,
        "PLEO_CLIENT_ID": served.sandbox.oauth_client_id,
        "PLEO_CLIENT_SECRET": served.sandbox.oauth_client_secret,
    }


@pytest.mark.rule("accounts-8", "accounts-9", "accounts-10")
def test_login_with_pkce_and_loopback_redirect_then_use_the_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rules 8-10: PKCE S256, state checked, code exchanged; tokens land in the state DB."""
    seen: list[str] = []

    def browser(url: str) -> bool:
        seen.append(url)
        return _browser()(url)

    monkeypatch.setattr(_auth, "open_browser", browser)
    with served_demo() as served:
        env = _login_env(served)
        login = cli(tmp_path, "auth", "login", "--timeout", "10", "--json", env=env)
        assert login.code == 0, login.err
        document = login.json()
        assert document["auth_method"] == "oauth"
        assert document["company_id"] == served.company_id
        query = dict(parse_qsl(urlsplit(seen[0]).query))
        assert query["code_challenge_method"] == "S256"
        assert query["redirect_uri"].startswith("http://127.0.0.1:")
        assert query["redirect_uri"].endswith("/callback")
        assert len(query["state"]) >= 32
        # The URL is printed for a browser that does not open (stderr in --json mode).
        assert seen[0] in login.err
        assert served.sandbox.oauth_client_secret not in login.text
        # Later commands authenticate with the saved tokens (bearer), no key anywhere.
        bare = {"PLEO_CLIENT_SECRET": served.sandbox.oauth_client_secret}
        status = cli(tmp_path, "auth", "status", "--json", env=bare)
        assert status.code == 0, status.err
        assert status.json()["auth_method"] == "OAuth"
        assert status.json()["base_url"] == served.base_url
        ledger = make_ledger(tmp_path, served.demo)
        sync = cli(tmp_path, "sync-tax-codes", "--ledger", str(ledger), "--json", env=bare)
        assert sync.code == 0, sync.err
        assert sync.json()["write_requests"] > 0


@pytest.mark.rule("accounts-10")
def test_login_refuses_a_redirect_with_a_foreign_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rule 10: a redirect whose state is not ours is never exchanged — and it does not end
    the login either (any local process can reach the port): the real redirect still wins."""
    forged_codes: list[str] = []

    def forge_first(url: str) -> bool:
        def forged(query: dict[str, str]) -> dict[str, str]:
            forged_codes.append("evil-code")
            return {**query, "state": "forged", "code": "evil-code"}

        _browser(forged)(url)
        return _browser()(url)

    monkeypatch.setattr(_auth, "open_browser", forge_first)
    with served_demo() as served:
        served.sandbox.clear_requests()
        login = cli(tmp_path, "auth", "login", "--timeout", "10", env=_login_env(served))
        assert login.code == 0, login.err
        assert forged_codes == ["evil-code"]
        token_calls = [r for r in served.sandbox.requests if r.path == "/oauth/token"]
        assert len(token_calls) == 1  # only the real code was exchanged
        assert "evil-code" not in str(token_calls[0].body)


def test_login_reports_a_denied_authorization(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def deny(query: dict[str, str]) -> dict[str, str]:
        return {"error": "access_denied", "state": query["state"]}

    monkeypatch.setattr(_auth, "open_browser", _browser(deny))
    with served_demo() as served:
        login = cli(tmp_path, "auth", "login", "--timeout", "10", env=_login_env(served))
        assert login.code == 3
        assert "access_denied" in login.err


def test_login_needs_client_credentials(tmp_path: Path) -> None:
    assert cli(tmp_path, "auth", "login", "--no-browser").code == 2
    no_secret = cli(tmp_path, "auth", "login", "--client-id", "abc", "--no-browser")
    assert no_secret.code == 2
    assert "PLEO_CLIENT_SECRET" in no_secret.err


# ---- the loopback receiver itself -----------------------------------------------------------


def test_callback_receiver_checks_state_then_error_then_code() -> None:
    receiver = CallbackReceiver("expected-state")
    assert receiver.handle("/favicon.ico")[0] == 404
    status, _ = receiver.handle("/callback?code=abc&state=expected-state")
    assert status == 200
    assert receiver.wait(0) == "abc"
    # Only the first redirect counts.
    assert receiver.handle("/callback?code=other&state=expected-state")[0] == 409
    assert receiver.wait(0) == "abc"

    forged = CallbackReceiver("expected-state")
    assert forged.handle("/callback?code=abc&state=forged")[0] == 400
    with pytest.raises(LoginTimeout):  # ignored: the login goes on waiting
        forged.wait(0)
    assert forged.handle("/callback?code=real&state=expected-state")[0] == 200
    assert forged.wait(0) == "real"

    denied = CallbackReceiver("s")
    denied.handle("/callback?error=access_denied&state=s")
    with pytest.raises(OAuthAuthorizationError):
        denied.wait(0)

    codeless = CallbackReceiver("s")
    codeless.handle("/callback?state=s")
    with pytest.raises(OAuthCallbackError):
        codeless.wait(0)


def test_callback_receiver_times_out() -> None:
    with pytest.raises(LoginTimeout):
        CallbackReceiver("s").wait(0)


def test_callback_receiver_serves_on_loopback() -> None:
    with CallbackReceiver("s") as receiver:
        assert receiver.redirect_uri.startswith("http://127.0.0.1:")
        response = httpx.get(receiver.redirect_uri + "?code=c1&state=s", timeout=5)
        assert response.status_code == 200
        assert "authorized" in response.text
        assert receiver.wait(1) == "c1"
