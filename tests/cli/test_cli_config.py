"""CLI configuration: precedence flags > PLEO_* environment > TOML file, file lookup, TOML
reading (tomllib/tomli), masking of secrets in every dump, and usage/config exit codes."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from pleo_erp.cli import run
from pleo_erp.cli._config import MASK, Secret, Settings, load_settings
from pleo_erp.cli._errors import ConfigError, UsageError

COMPANY_FILE = "11111111-1111-1111-1111-111111111111"
COMPANY_ENV = "22222222-2222-2222-2222-222222222222"
COMPANY_FLAG = "33333333-3333-3333-3333-333333333333"
SENTINEL = "sk_SENTINEL_do_not_print_0123456789"


def _settings(
    tmp_path: Path,
    flags: dict[str, object] | None = None,
    env: dict[str, str] | None = None,
    config: Path | None = None,
) -> tuple[Settings, list[str]]:
    return load_settings(
        flags or {}, env=env or {}, cwd=tmp_path, home=tmp_path / "home", config_path=config
    )


def _write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def _cli(
    tmp_path: Path, argv: list[str], env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run the CLI in-process with an isolated environment; return (code, stdout, stderr)."""
    import io

    out, err = io.StringIO(), io.StringIO()
    code = run(
        argv,
        env={"XDG_STATE_HOME": str(tmp_path / "state"), **(env or {})},
        stdout=out,
        stderr=err,
        cwd=tmp_path,
        home=tmp_path / "home",
        stdin=io.StringIO(""),
    )
    return code, out.getvalue(), err.getvalue()


# ---- precedence -----------------------------------------------------------------------------


def test_flags_beat_env_beat_file(tmp_path: Path) -> None:
    config = _write(
        tmp_path / "pleo-erp.toml", f'company_id = "{COMPANY_FILE}"\nledger = "a.beancount"\n'
    )
    only_file, _ = _settings(tmp_path)
    assert only_file.company_id == uuid.UUID(COMPANY_FILE)
    assert only_file.sources["company_id"] == f"file {config}"

    env = {"PLEO_COMPANY_ID": COMPANY_ENV}
    with_env, _ = _settings(tmp_path, env=env)
    assert with_env.company_id == uuid.UUID(COMPANY_ENV)
    assert with_env.sources["company_id"] == "env PLEO_COMPANY_ID"
    # A setting only the file has still comes from the file.
    assert with_env.ledger == tmp_path / "a.beancount"

    with_flag, _ = _settings(tmp_path, flags={"company_id": COMPANY_FLAG}, env=env)
    assert with_flag.company_id == uuid.UUID(COMPANY_FLAG)
    assert with_flag.sources["company_id"] == "flag"


def test_empty_env_value_does_not_hide_the_file(tmp_path: Path) -> None:
    _write(tmp_path / "pleo-erp.toml", f'company_id = "{COMPANY_FILE}"\n')
    resolved, _ = _settings(tmp_path, env={"PLEO_COMPANY_ID": "  "})
    assert resolved.company_id == uuid.UUID(COMPANY_FILE)


def test_env_flag_overrides_base_url_from_a_lower_level(tmp_path: Path) -> None:
    resolved, _ = _settings(
        tmp_path, flags={"environment": "staging"}, env={"PLEO_BASE_URL": "http://127.0.0.1:9"}
    )
    assert resolved.environment == "staging"
    assert resolved.base_url is None
    with_url, _ = _settings(
        tmp_path, flags={"base_url": "http://127.0.0.1:9"}, env={"PLEO_ENVIRONMENT": "staging"}
    )
    assert with_url.base_url == "http://127.0.0.1:9"


def test_env_and_base_url_flags_together_are_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        _settings(tmp_path, flags={"environment": "staging", "base_url": "http://127.0.0.1:9"})
    code, _, err = _cli(
        tmp_path, ["config", "show", "--env", "staging", "--base-url", "http://x.test"]
    )
    assert code == 2
    assert "not both" in err


def test_relative_paths_in_the_file_are_relative_to_the_file(tmp_path: Path) -> None:
    config = _write(
        tmp_path / "conf" / "x.toml", 'ledger = "books/l.beancount"\nstate_db = "s.db"\n'
    )
    resolved, _ = _settings(tmp_path, config=config)
    assert resolved.ledger == tmp_path / "conf" / "books" / "l.beancount"
    assert resolved.state_db == tmp_path / "conf" / "s.db"
    from_env, _ = _settings(tmp_path, env={"PLEO_LEDGER": "rel.beancount"})
    assert from_env.ledger == tmp_path / "rel.beancount"


def test_default_lookup_order_and_state_db(tmp_path: Path) -> None:
    home = tmp_path / "home"
    user = _write(home / ".config" / "pleo-erp" / "config.toml", 'environment = "staging"\n')
    resolved, _ = _settings(tmp_path)
    assert resolved.config_file == user
    assert resolved.environment == "staging"
    assert resolved.state_db == home / ".local" / "state" / "pleo-erp" / "state.db"
    local = _write(tmp_path / "pleo-erp.toml", 'environment = "production"\n')
    resolved, _ = _settings(tmp_path)
    assert resolved.config_file == local
    assert resolved.environment == "production"
    xdg, _ = _settings(tmp_path, env={"XDG_STATE_HOME": str(tmp_path / "xdg")})
    assert xdg.state_db == tmp_path / "xdg" / "pleo-erp" / "state.db"


def _macos_dirs(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make platformdirs answer as on macOS (config and state in Application Support)."""
    import platformdirs

    support = Path.home() / "Library" / "Application Support"

    def native(app: str, appauthor: object = None) -> Path:
        assert appauthor is False
        return support / app

    monkeypatch.setattr(platformdirs, "user_config_path", native)
    monkeypatch.setattr(platformdirs, "user_state_path", native)
    return Path("Library") / "Application Support" / "pleo-erp"


def test_per_user_directories_come_from_platformdirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On macOS the per-user config and state live where platformdirs says, re-rooted under
    the CLI's home; an explicit XDG variable still wins."""
    native = _macos_dirs(monkeypatch)
    home = tmp_path / "home"
    user = _write(home / native / "config.toml", 'environment = "staging"\n')
    resolved, _ = _settings(tmp_path)
    assert resolved.config_file == user
    assert resolved.state_db == home / native / "state.db"
    xdg, _ = _settings(tmp_path, env={"XDG_CONFIG_HOME": str(tmp_path / "x")})
    assert xdg.config_file is None


def test_files_of_earlier_versions_keep_working_on_macos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Earlier versions used ~/.config and ~/.local/state everywhere: a config file and a state
    database (tokens, keys) left there are still found until the new places are used."""
    native = _macos_dirs(monkeypatch)
    home = tmp_path / "home"
    old_config = _write(home / ".config" / "pleo-erp" / "config.toml", 'environment = "staging"\n')
    old_db = _write(home / ".local" / "state" / "pleo-erp" / "state.db", "")
    resolved, _ = _settings(tmp_path)
    assert resolved.config_file == old_config
    assert resolved.state_db == old_db
    new_config = _write(home / native / "config.toml", 'environment = "production"\n')
    new_db = _write(home / native / "state.db", "")
    resolved, _ = _settings(tmp_path)
    assert resolved.config_file == new_config
    assert resolved.state_db == new_db


def test_without_platformdirs_the_xdg_defaults_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI runs without the ``cli`` extra: then the per-user directories are the XDG ones."""
    import sys

    monkeypatch.setitem(sys.modules, "platformdirs", None)
    resolved, _ = _settings(tmp_path)
    assert resolved.state_db == tmp_path / "home" / ".local" / "state" / "pleo-erp" / "state.db"


def test_scopes_from_string_or_list(tmp_path: Path) -> None:
    _write(tmp_path / "pleo-erp.toml", 'scopes = ["a:read", "b:write"]\n')
    resolved, _ = _settings(tmp_path)
    assert resolved.scopes == ("a:read", "b:write")
    from_env, _ = _settings(tmp_path, env={"PLEO_SCOPES": "x:read, y:write"})
    assert from_env.scopes == ("x:read", "y:write")


# ---- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('comapny_id = "x"\n', "unknown key 'comapny_id'"),
        ('company_id = "not-a-uuid"\n', "not a UUID"),
        ('environment = "dev"\n', "'production' or 'staging'"),
        ("company_id = 5\n", "must be a string"),
        ('base_url = "ftp://x"\n', "http(s) URL"),
        ("= broken\n", "not valid TOML"),
    ],
)
def test_bad_config_files_are_config_errors(tmp_path: Path, text: str, fragment: str) -> None:
    config = _write(tmp_path / "pleo-erp.toml", text)
    with pytest.raises(ConfigError) as caught:
        _settings(tmp_path, config=config)
    assert fragment in caught.value.message + (caught.value.hint or "")
    code, _, err = _cli(tmp_path, ["config", "show"])
    assert code == 2
    assert "pleo-erp: error:" in err


def test_missing_explicit_config_file_is_exit_2(tmp_path: Path) -> None:
    code, out, err = _cli(tmp_path, ["config", "show", "--config", "nope.toml"])
    assert (code, out) == (2, "")
    assert "config file not found" in err


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert _cli(tmp_path, [])[0] == 2
    assert _cli(tmp_path, ["frobnicate"])[0] == 2
    assert _cli(tmp_path, ["export", "--max-jobs", "many"])[0] == 2
    assert _cli(tmp_path, ["auth"])[0] == 2
    # There is deliberately no way to pass a secret on the command line.
    assert _cli(tmp_path, ["auth", "set-key", "--api-key", SENTINEL])[0] == 2


def test_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pleo_erp import __version__
    from pleo_erp.cli import main

    with pytest.raises(SystemExit) as exited:
        raise SystemExit(main(["--version"]))
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"pleo-erp {__version__}"


def test_export_without_accounting_system_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = _cli(tmp_path, ["export"], env={"PLEO_API_KEY": SENTINEL})
    assert code == 2
    assert "--ledger" in err
    assert SENTINEL not in err


def test_ledger_and_adapter_together_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = _cli(
        tmp_path,
        ["sync-accounts", "--ledger", "x.beancount"],
        env={"PLEO_ADAPTER": "mod:factory", "PLEO_API_KEY": SENTINEL},
    )
    assert code == 2
    assert "not both" in err


# ---- secrets --------------------------------------------------------------------------------


def test_secret_never_shows_itself() -> None:
    secret = Secret(f"  {SENTINEL}\n")
    assert secret.reveal() == SENTINEL
    assert SENTINEL not in repr(secret) + str(secret) + f"{secret}" + repr([secret])


def test_config_show_masks_secrets_in_text_and_json(tmp_path: Path) -> None:
    env = {
        "PLEO_API_KEY": SENTINEL,
        "PLEO_CLIENT_SECRET": SENTINEL + "-client",
        "PLEO_WEBHOOK_SECRET": "whsec_" + SENTINEL,
        "PLEO_COMPANY_ID": COMPANY_ENV,
    }
    code, out, err = _cli(tmp_path, ["config", "show"], env=env)
    assert code == 0
    assert SENTINEL not in out + err
    assert MASK in out
    assert COMPANY_ENV in out
    code, out, err = _cli(tmp_path, ["config", "show", "--json"], env=env)
    assert code == 0
    document = json.loads(out)
    assert document["api_key"] == MASK
    assert document["client_secret"] == MASK
    assert document["webhook_secret"] == MASK
    assert document["company_id"] == COMPANY_ENV
    assert document["sources"]["api_key"] == "env PLEO_API_KEY"
    assert SENTINEL not in out + err


def test_secret_in_a_world_readable_file_warns(tmp_path: Path) -> None:
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    _write(tmp_path / "pleo-erp.toml", f'api_key = "{SENTINEL}"\n', mode=0o644)
    code, out, err = _cli(tmp_path, ["config", "show"])
    assert code == 0
    assert "chmod 600" in err
    assert SENTINEL not in out + err
    (tmp_path / "pleo-erp.toml").chmod(0o600)
    assert "chmod 600" not in _cli(tmp_path, ["config", "show"])[2]


def test_a_secret_inside_an_error_message_is_scrubbed(tmp_path: Path) -> None:
    # An unexpected error text that happens to contain the key is still masked.
    env = {"PLEO_API_KEY": SENTINEL, "PLEO_ADAPTER": f"no_such_module_{SENTINEL}:make"}
    code, out, err = _cli(tmp_path, ["sync-tags"], env=env)
    assert code == 2
    assert "cannot import adapter module" in err
    assert SENTINEL not in out + err


# ---- reading TOML (tomllib, or tomli on Python 3.10) ---------------------------------------


def test_config_file_accepts_all_of_toml(tmp_path: Path) -> None:
    """The file is read by tomllib/tomli: floats, inline tables and multi-line arrays parse
    (the former hand-written 3.10 reader refused them); unknown keys are still rejected."""
    _write(
        tmp_path / "pleo-erp.toml",
        f'company_id = "{COMPANY_FILE}"\nscopes = [\n  "a:b",\n  "c:d",\n]\n',
    )
    resolved, _ = _settings(tmp_path)
    assert resolved.scopes == ("a:b", "c:d")


def test_malformed_toml_names_the_line(tmp_path: Path) -> None:
    _write(tmp_path / "pleo-erp.toml", 'environment = "staging"\ncompany_id = \n')
    with pytest.raises(ConfigError, match="line 2"):
        _settings(tmp_path)


def test_ctrl_c_is_exit_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pleo_erp.cli import _commands

    def interrupted(ctx: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(_commands, "cmd_config_show", interrupted)
    code, _, err = _cli(tmp_path, ["config", "show"])
    assert code == 130
    assert "interrupted" in err


def test_unexpected_errors_say_how_to_see_the_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pleo_erp.cli import _commands

    def broken(ctx: object) -> int:
        raise RuntimeError(f"bug near {SENTINEL}")

    monkeypatch.setattr(_commands, "cmd_config_show", broken)
    env = {"PLEO_API_KEY": SENTINEL}
    code, _, err = _cli(tmp_path, ["config", "show"], env=env)
    assert code == 1
    assert "RuntimeError: bug near ***" in err
    assert "--verbose" in err
    code, out, err = _cli(tmp_path, ["config", "show", "-v", "--json"], env=env)
    assert code == 1
    assert "Traceback" in err
    assert SENTINEL not in out + err
    assert json.loads(out)["error"]["type"] == "RuntimeError"


def test_without_a_toml_reader_the_error_says_to_install_tomli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python 3.10 without tomli (the ``cli`` extra installs it): a clear, actionable error."""
    from pleo_erp.cli import _toml

    monkeypatch.setattr(_toml, "_library_loader", lambda: None)
    _write(tmp_path / "pleo-erp.toml", f'company_id = "{COMPANY_FILE}"\n')
    with pytest.raises(ConfigError, match=r"pip install 'pleo-erp\[cli\]'"):
        _settings(tmp_path)
