"""Run in a fresh interpreter by tests/toy/test_toy_vendor.py: register Toy Jobs first, then
build the gateway over all five simulators and print what GraphQL answers, as JSON."""

from __future__ import annotations

import asyncio
import json

from jobgate.vendors import VENDORS
from tests.toy import VENDOR

VENDORS.register(VENDOR)  # before anything imports the schema

from tests import harness  # noqa: E402  (the registration above must come first)

QUERY = """{
  sources { name provider supportedActions }
  jobs(ids: ["toys:1", "toys:3", "ingest:7505e000001NLkPAAW"]) {
    id provider status providerStatus allowedActions
    details { __typename ... on ToyJobDetails { title } }
  }
}"""
CANCEL = 'mutation { a: cancelJob(id: "toys:2") { job { status providerStatus } error { code } }'
CANCEL += ' b: cancelJob(id: "toys:3") { job { id } error { code message } } }'


async def main() -> None:
    async with harness.gateway() as gw:
        read = await gw.gql(QUERY)
        changed = await gw.gql(CANCEL)
        stored = gw.store("toys").jobs["2"]["state"]
    print(json.dumps({"read": read, "changed": changed, "stored": stored}))


asyncio.run(main())
