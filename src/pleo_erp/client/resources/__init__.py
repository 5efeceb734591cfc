"""One module per Pleo API family, each with a blocking and an ``async`` resource class.

Every module builds its requests with pure ``*_call`` functions (a
:class:`~pleo_erp.client._request.Call` each) that both classes share; the classes only send the
call and structure the response. See ``docs/client.md`` for the operations and which of them
may be re-sent after an ambiguous failure.
"""
