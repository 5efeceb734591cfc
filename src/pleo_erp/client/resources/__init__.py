"""One module per Pleo API family, each with a blocking and an ``async`` resource class.

Every module defines each operation once, in a pure ``*_op`` function that builds the request
and names the response parser (an :class:`~pleo_erp.client._request.Operation`, a
:class:`~pleo_erp.client.resources._base.BulkOperation` or a
:class:`~pleo_erp.client.pagination.PagedCall`); both classes only run it. See
``docs/client.md`` for the operations and which of them may be re-sent after an ambiguous
failure.
"""
