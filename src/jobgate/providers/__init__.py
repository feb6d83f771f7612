"""One adapter per vendor behind the ``JobProvider`` protocol (``base``), and what they share.

An adapter states its vendor's wire format — how a job is read and parsed, how a change is
sent — and nothing else: the write-once-then-confirm protocol is ``confirm``, the rules checked
before a write live in ``jobgate.domain``, the HTTP channel in ``jobgate.upstream``. ``registry``
builds the provider of each configured source from ``jobgate.vendors``.
"""
