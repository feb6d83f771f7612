"""A fifth vendor, "Toy Jobs", built from tests/ alone: it proves that adding a vendor to jobgate
is an adapter module (here with its rules), a simulator module, a GraphQL details type and one
registry line (``VENDOR`` below, registered by the tests that use it), and nothing in ``src/``.
"""

from __future__ import annotations

from jobgate.vendors import Vendor
from tests.toy.rules import TOY

VENDOR = Vendor(
    TOY, adapter="tests.toy.adapter", simulator="tests.toy.simulator", graphql="tests.toy.schema"
)
