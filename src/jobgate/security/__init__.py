"""Defences against hostile clients: authentication, CSRF prevention, document limits.

``settings`` (the ``[auth]`` table), ``auth`` (credentials to a Principal), ``middleware``
(records the Principal; masks HTTP-layer failures), ``csrf``, ``limits``.
"""
