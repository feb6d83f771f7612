"""Small Starlette apps that behave like the vendors' APIs, quirks included (PROVIDERS.md)."""
