"""jobgate: one GraphQL schema in front of four vendors' job APIs."""

__version__ = "0.1.0"
