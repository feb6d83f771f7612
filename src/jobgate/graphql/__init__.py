"""The GraphQL schema: Strawberry types built from domain objects, resolvers, context."""
