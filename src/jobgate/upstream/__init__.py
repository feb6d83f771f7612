"""The vendor-neutral upstream channel: how any adapter's call reaches a vendor and comes back.

Four pieces, outermost first:

- ``Channel`` (``channel``): one per configured source, what adapters call (``get``, ``search``,
  ``write``). It attaches credentials, keeps a write to one send, and turns every failure into a
  contract ``JobError`` (``errors`` maps the vendors' error bodies, the upstream's words kept).
- ``CallGuard`` (``guard``): the protection every call passes — circuit breaker, a bounded wait
  for a concurrency slot, the request's deadline, retries of reads only (``resilience``).
- ``Credentials`` (``credentials``, ``grants``): a fixed token, or one renewed by the vendor's
  grant, with a single repeat of a call answered 401 after a renewal.
- ``WholeBodyTransport`` (``transport``): httpx-aiohttp with aiohttp's silent re-send of
  "idempotent" methods turned off and answers read whole under a size cap. ``UpstreamClient``
  (``jobgate.internals.httpx``) is the httpx client around it.

Nothing here knows a vendor's job shape: that is ``jobgate.providers``.
"""
