"""Repository-wide pytest configuration (applies to tests/ and examples/).

Hypothesis runs derandomized under CI (``CI`` set), so a CI run is reproducible and cannot
fail on an example no one can replay; locally it explores new examples on every run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)
