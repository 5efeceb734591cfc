"""The typed client for Pleo's External APIs, and everything it raises.

```python
from pleo_erp.client import PleoClient, ApiKeyAuth, STAGING

with PleoClient(auth=ApiKeyAuth("…"), base_url=STAGING) as client:
    company = client.introspect().company_id
    jobs = client.export_jobs.list(company_id=company, statuses=["pending"]).to_list()
```

See ``docs/client.md`` for retries and idempotency, rate limiting, errors and logging.
"""

from pleo_erp.client._client import ENVIRONMENTS, AsyncPleoClient, ClientOptions, PleoClient
from pleo_erp.client._logging import redact_headers
from pleo_erp.client._ratelimit import DEFAULT_REQUESTS_PER_MINUTE, RateLimiter
from pleo_erp.client._retry import RetryPolicy
from pleo_erp.client._transport import DEFAULT_TIMEOUT, PRODUCTION, STAGING
from pleo_erp.client.auth import ApiKeyAuth, OAuth2Auth
from pleo_erp.client.errors import (
    AccountExternalIdConflict,
    AccountInUse,
    AuthenticationError,
    BadRequest,
    Conflict,
    InsufficientScope,
    NotFound,
    PaginationError,
    PayloadTooLarge,
    PermissionDenied,
    PleoAPIError,
    PleoConnectionError,
    PleoError,
    PleoTimeoutError,
    RateLimited,
    ReauthorizationRequired,
    ResponseValidationError,
    ServerError,
    Unprocessable,
    WebhookVerificationError,
)
from pleo_erp.client.pagination import AsyncPaginator, Page, Paginator
from pleo_erp.client.receipt_policy import ReceiptPolicy
from pleo_erp.client.resources.accounts import AccountsBatchResult
from pleo_erp.client.resources.export_jobs import ExportJobItemsUpdateResult

__all__ = [
    "DEFAULT_REQUESTS_PER_MINUTE",
    "DEFAULT_TIMEOUT",
    "ENVIRONMENTS",
    "PRODUCTION",
    "STAGING",
    "AccountExternalIdConflict",
    "AccountInUse",
    "AccountsBatchResult",
    "ApiKeyAuth",
    "AsyncPaginator",
    "AsyncPleoClient",
    "AuthenticationError",
    "BadRequest",
    "ClientOptions",
    "Conflict",
    "ExportJobItemsUpdateResult",
    "InsufficientScope",
    "NotFound",
    "OAuth2Auth",
    "Page",
    "PaginationError",
    "Paginator",
    "PayloadTooLarge",
    "PermissionDenied",
    "PleoAPIError",
    "PleoClient",
    "PleoConnectionError",
    "PleoError",
    "PleoTimeoutError",
    "RateLimited",
    "RateLimiter",
    "ReauthorizationRequired",
    "ReceiptPolicy",
    "ResponseValidationError",
    "RetryPolicy",
    "ServerError",
    "Unprocessable",
    "WebhookVerificationError",
    "redact_headers",
]
