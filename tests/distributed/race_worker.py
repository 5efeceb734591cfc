"""A child process for the multi-process store races (run as a script by the tests).

``race_worker.py refresh <backend> <location> <token_url>``: print ``ready``, wait for a line
on stdin, then make one authenticated request whose token must be refreshed first; print the
access token used.

``race_worker.py claim <backend> <location>``: print ``ready``, wait, then claim due schedule
rows in small batches until none is left; print the claimed ``company:level`` ids as JSON.

``race_worker.py hold-token-lock <backend> <location>``: take the token lock, print ``locked``
and sleep (the test SIGKILLs it).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import httpx

from pleo_erp.client.auth import OAuth2Auth


def _token_store(backend: str, location: str) -> Any:
    if backend == "sqlite":
        from pleo_erp.state import SQLiteTokenStore

        return SQLiteTokenStore(location, key="race")
    from pleo_erp.state.postgres import PostgresStateDB, PostgresTokenStore

    return PostgresTokenStore(PostgresStateDB(location, max_size=2), key="race")


def _schedule(backend: str, location: str) -> Any:
    from pleo_erp.runtime.state import open_state

    return open_state(location).schedule


def _wait_for_go() -> None:
    print("ready", flush=True)
    sys.stdin.readline()


def refresh(backend: str, location: str, token_url: str) -> None:
    store = _token_store(backend, location)
    auth = OAuth2Auth("race-client", "race-secret", store, token_url=token_url)
    with httpx.Client(auth=auth, timeout=30) as client:
        _wait_for_go()
        response = client.get(token_url.replace("/oauth/token", "/api/ping"))
        print(json.dumps({"status": response.status_code, "token": response.text}), flush=True)


def claim(backend: str, location: str) -> None:
    schedule = _schedule(backend, location)
    _wait_for_go()
    claimed: list[str] = []
    while True:
        runs = schedule.claim_due(7)
        if not runs:
            break
        claimed += [f"{run.company_id}:{run.level.value}" for run in runs]
    print(json.dumps(claimed), flush=True)


def hold_token_lock(backend: str, location: str) -> None:
    store = _token_store(backend, location)
    with store.lock():
        print("locked", flush=True)
        time.sleep(600)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"refresh": refresh, "claim": claim, "hold-token-lock": hold_token_lock}[command](*args)
