"""Pleo's wire types: attrs classes named exactly as the OpenAPI schemas, plus open enums.

Modules per API family: ``common`` (money, errors, envelopes, pagination), ``export_jobs``,
``export_items``, ``tags`` (tag groups and tags), ``accounts`` (chart of accounts),
``tax_codes``, ``installations``, ``subscriptions``, ``introspect`` and ``webhooks``. Every name is
re-exported here. Conversion to and from JSON lives in ``pleo_erp.client.serialization``.

Conventions: ``@define(frozen=True)`` classes; attributes are the snake_case of the JSON
property; arrays are tuples; ``X | None = None`` for optional and nullable properties; fields
typed ``SomeEnum | str`` are open enums that keep unknown values as strings; money is integer
minor units (``MoneyModel``); ids are ``uuid.UUID``; date-times are timezone-aware.
The spec's envelope schemas (``DataResponseXxx``, ``CursorPaginatedResponseXxx``,
``SubscriptionResponse``, …) are aliases of the generic ``DataResponse[T]`` / ``CursorPage[T]``.
"""

from __future__ import annotations

from pleo_erp.models import (
    accounts,
    common,
    export_items,
    export_jobs,
    installations,
    introspect,
    subscriptions,
    tags,
    tax_codes,
    webhooks,
)
from pleo_erp.models.accounts import *
from pleo_erp.models.common import *
from pleo_erp.models.export_items import *
from pleo_erp.models.export_jobs import *
from pleo_erp.models.installations import *
from pleo_erp.models.introspect import *
from pleo_erp.models.subscriptions import *
from pleo_erp.models.tags import *
from pleo_erp.models.tax_codes import *
from pleo_erp.models.webhooks import *

# Every public name of the family modules, listed once: in each module's own ``__all__``.
__all__: list[str] = []
__all__ += accounts.__all__
__all__ += common.__all__
__all__ += export_items.__all__
__all__ += export_jobs.__all__
__all__ += installations.__all__
__all__ += introspect.__all__
__all__ += subscriptions.__all__
__all__ += tags.__all__
__all__ += tax_codes.__all__
__all__ += webhooks.__all__
