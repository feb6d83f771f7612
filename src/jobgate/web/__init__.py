"""The HTTP shell: everything between a client's HTTP request and the GraphQL schema.

``app`` builds the Starlette app (``create_app``, ``demo_app``) with the gateway in its lifespan.
Each request passes ``scope`` (request id, deadline and log record, set once), ``auth`` (API key
or JWT to a ``Principal``), ``csrf`` and, for mutations, ``idempotency``; ``endpoint`` reads the
GraphQL request (``params``), runs it under its deadline and writes the answer (``answers``);
``observe`` logs and counts it. ``operator`` serves ``/healthz``, ``/readyz`` and ``/metrics``.
"""
