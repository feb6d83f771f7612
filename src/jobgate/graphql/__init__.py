"""The GraphQL schema: Strawberry types built from domain values, resolvers, execution.

``schema`` holds the Query and Mutation roots and ``build_schema``; ``types``, ``inputs``,
``enums`` and ``details`` (one type per registered vendor) map the domain to the contract's
names; ``context`` gives each request its gateway and DataLoader; ``limits`` checks a document
before it runs; ``execution`` runs it; ``errors`` gives failed lookups their contract codes.
"""
