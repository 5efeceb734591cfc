"""``PleoSandbox``: a local, stateful emulator of the Pleo APIs, faithful to the published specs.

```python
sandbox = PleoSandbox(seed=1)
sandbox.seed_demo()                                   # the demo company, its jobs and receipts
client = sandbox.client()                             # PleoClient wired in-process
sandbox.faults.add("PUT /v3/export-jobs/*/items", kind="lost_response", on_calls={2})
sandbox.clock.advance(hours=1)                        # expire a started job
with sandbox.serve() as base_url: ...                 # the same state over loopback HTTP
```

Every request is validated against the specs (a non-conforming one gets a 400 naming the
problem) and every response too (strict by default: a response that breaks the spec raises
:class:`SandboxContractError`). Run it alone with ``python -m pleo_erp.testing.sandbox``.
"""

from pleo_erp.testing.sandbox._app import RecordedRequest
from pleo_erp.testing.sandbox._clock import SandboxClock
from pleo_erp.testing.sandbox._errors import SandboxContractError, SandboxDisconnect, SandboxError
from pleo_erp.testing.sandbox._faults import FaultKind, FaultPlan, FaultRule
from pleo_erp.testing.sandbox._pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from pleo_erp.testing.sandbox._sandbox import DEFAULT_START, OAuthTokens, PleoSandbox
from pleo_erp.testing.sandbox._validation import ResponseMode
from pleo_erp.testing.sandbox._webhooks import WebhookDelivery

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_START",
    "MAX_PAGE_SIZE",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "OAuthTokens",
    "PleoSandbox",
    "RecordedRequest",
    "ResponseMode",
    "SandboxClock",
    "SandboxContractError",
    "SandboxDisconnect",
    "SandboxError",
    "WebhookDelivery",
]
