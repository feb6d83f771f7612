"""Small Starlette apps that behave like the vendors' APIs, quirks included (PROVIDERS.md).

One app module and, where the state is large, one store module per vendor; ``vendor`` says what
each offers (``simulated()``: a running vendor and the source settings that reach it), ``suite``
serves them all as one ASGI app and ``demo`` seeds them for ``jobgate serve`` with no config.
``faults`` and ``fault_proxy`` misbehave on purpose, for the tests and the hostile bench.
"""
