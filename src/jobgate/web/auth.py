"""Client authentication: an API key or a JWT bearer token becomes a Principal, or a refusal.

``AuthMiddleware`` records the caller's Principal before the route runs, so that everything
behind it (the Idempotency-Key guard, the endpoint, the resolvers) reads one Principal with
``principal_of(request)``.

Credentials: ``Authorization: Bearer <key or JWT>`` or ``X-API-Key: <key>`` (one of them). API
keys are compared as sha256 digests with ``hmac.compare_digest`` against every configured key,
so neither the time taken nor the order of the keys says anything about a near miss. Refusals
name the reason in general terms and never repeat the credential.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

import jwt
from starlette.datastructures import Headers, QueryParams
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from jobgate.config.auth import SCOPES, AuthSettings, JwtSettings
from jobgate.domain.principal import ANONYMOUS, Principal
from jobgate.web.answers import error_answer
from jobgate.web.scope import note_codes, request_id_of

log = logging.getLogger("jobgate.auth")

MAX_CREDENTIAL_LENGTH = 8192  # a header longer than any real key or token
REALM = 'Bearer realm="jobgate"'


class AuthError(Exception):
    """Why a request is refused with 401; ``challenge`` is its WWW-Authenticate value."""

    def __init__(self, message: str, *, error: str | None = "invalid_token") -> None:
        super().__init__(message)
        self.message = message
        self.challenge = REALM if error is None else f'{REALM}, error="{error}"'


# PyJWT's own messages may quote parts of the token; answer with these instead.
_JWT_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "The token has expired."),
    (jwt.ImmatureSignatureError, "The token is not valid yet."),
    (jwt.InvalidAudienceError, "The token is for another audience."),
    (jwt.InvalidIssuerError, "The token is from another issuer."),
    (jwt.InvalidAlgorithmError, "The token's algorithm is not accepted."),
    (jwt.InvalidSignatureError, "The token's signature does not verify."),
)


class Authenticator:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._keys = [
            (
                key.sha256,
                Principal(
                    name=key.name,
                    scopes=key.scopes,
                    sources=key.sources,
                    identity=f"key:{key.name}",
                ),
            )
            for key in settings.api_keys
        ]
        self._jwt = settings.jwt

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def authenticate(self, headers: Headers) -> Principal:
        """The caller, or AuthError (no credential, or one that does not verify)."""
        credential = _credential(headers)
        if len(credential) > MAX_CREDENTIAL_LENGTH:
            raise AuthError("The credential is too long.")
        principal = self._api_key(credential)
        if principal is not None:
            return principal
        if self._jwt is not None and credential.count(".") == 2:
            return _verify_jwt(credential, self._jwt)
        raise AuthError("The API key or token is not valid.")

    def _api_key(self, credential: str) -> Principal | None:
        presented = hashlib.sha256(credential.encode("utf-8", "surrogateescape")).digest()
        found: Principal | None = None
        for digest, principal in self._keys:  # no early exit: every key costs the same
            if hmac.compare_digest(presented, digest):
                found = principal
        return found


def _credential(headers: Headers) -> str:
    authorizations = headers.getlist("authorization")
    api_keys = headers.getlist("x-api-key")
    if len(authorizations) + len(api_keys) == 0:
        raise AuthError(
            "Authentication required: send Authorization: Bearer <token> or X-API-Key: <key>.",
            error=None,
        )
    if len(authorizations) + len(api_keys) > 1:
        raise AuthError("Send exactly one credential.", error="invalid_request")
    if api_keys:
        credential = api_keys[0].strip()
    else:
        scheme, _, credential = authorizations[0].strip().partition(" ")
        if scheme.lower() != "bearer":
            raise AuthError("Use the Bearer scheme.", error="invalid_request")
        credential = credential.strip()
    if not credential:
        raise AuthError("The credential is empty.", error="invalid_request")
    return credential


def _verify_jwt(token: str, settings: JwtSettings) -> Principal:
    required = ["exp"]
    if settings.audience is not None:
        required.append("aud")
    if settings.issuer is not None:
        required.append("iss")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.key,
            algorithms=[settings.algorithm],  # one algorithm: no "none", no HS/RS confusion
            audience=settings.audience,
            issuer=settings.issuer,
            leeway=settings.leeway,
            options={"require": required, "verify_aud": settings.audience is not None},
        )
    except jwt.MissingRequiredClaimError as exc:
        # PyJWT names the claim; it is one of ``required``, never text from the token.
        claim = exc.claim if exc.claim in required else "a required claim"
        raise AuthError(f"The token lacks the '{claim}' claim.") from None
    except jwt.PyJWTError as exc:
        reason = next((text for kind, text in _JWT_REASONS if isinstance(exc, kind)), None)
        raise AuthError(reason or "The token is malformed.") from None
    name = claims.get(settings.name_claim)
    subject = claims.get("sub")
    if isinstance(subject, str) and subject:
        identity = f"jwt:{claims.get('iss', '')}:{subject}"
    else:  # no subject: only this very token is this caller
        identity = (
            "jwt-token:" + hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
        )
    scopes = _claim_list(claims.get(settings.scopes_claim))
    sources: frozenset[str] | None = None
    if settings.sources_claim is not None:
        # Configured but absent means no source at all: a restriction fails closed.
        sources = frozenset(_claim_list(claims.get(settings.sources_claim)) or ())
    return Principal(
        name=f"jwt:{name}" if isinstance(name, str) and name else "jwt",
        scopes=frozenset(scopes or ()) & SCOPES,
        sources=sources,
        identity=identity,
    )


def _claim_list(value: Any) -> list[str] | None:
    """A space-separated string (OAuth 2 ``scope``) or a list of strings."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def principal_of(connection: HTTPConnection) -> Principal:
    """The caller as authentication recorded it (``scope["state"]["principal"]``)."""
    found = connection.scope.get("state", {}).get("principal")
    return found if isinstance(found, Principal) else ANONYMOUS


# What a request that skipped authentication may do: nothing. Recorded instead of leaving
# the state empty, because principal_of() falls back to the open gateway's ANONYMOUS.
NOBODY = Principal(name="unauthenticated", scopes=frozenset(), sources=frozenset())


class AuthMiddleware:
    def __init__(
        self, app: ASGIApp, authenticator: Authenticator, paths: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.paths = paths or frozenset({"/graphql"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if not self.authenticator.enabled:
            # An open gateway. (Clients cannot write scope["state"]; code in front of this
            # middleware can, and tests use that to act as a caller.)
            state.setdefault("principal", ANONYMOUS)
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if _is_ide_page(scope, headers):
            # The GraphiQL page is static and a browser cannot add headers to a navigation;
            # the page itself sends the credential the user types in with each query.
            state["principal"] = NOBODY
            await self.app(scope, receive, send)
            return
        try:
            state["principal"] = self.authenticator.authenticate(headers)
        except AuthError as exc:
            log.info("authentication refused: %s", exc.message)
            note_codes(["UNAUTHENTICATED"])
            request_id = request_id_of(scope)
            challenge = {"WWW-Authenticate": exc.challenge}
            refusal = error_answer(
                401, exc.message, "UNAUTHENTICATED", challenge, request_id=request_id
            )
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _is_ide_page(scope: Scope, headers: Headers) -> bool:
    has_credential = "authorization" in headers or "x-api-key" in headers
    return (
        not has_credential
        and scope["method"] == "GET"
        and "text/html" in headers.get("accept", "")
        and "query" not in QueryParams(scope.get("query_string", b""))
    )
