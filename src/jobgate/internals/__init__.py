"""Other libraries' private internals, one module per library, each behind tests/internals.

The speed-ups that lean on how Strawberry, graphql-core, Starlette, httpx, httpx-aiohttp and
redis-py work inside sit here and nowhere else. Each module says which version it was written
against; ``requirements.lock`` pins those versions for the README's commands and CI, and
tests/internals fails, naming the module to update, when an installed version changes an
internal. ``[server] fast_paths = false`` runs Strawberry's and graphql-core's own paths.
"""
