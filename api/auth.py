"""HTTP Basic authentication of the API (MCIS_API_USERNAME / MCIS_API_PASSWORD), as
CB-Tumblebug does; `/health` and `/tumblebug/health` are open. Compared in constant time."""

from __future__ import annotations

import base64
import binascii
import secrets

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response

OPEN_PATHS = frozenset({"/health", "/tumblebug/health"})


class BasicAuth:
    """ASGI middleware: every HTTP request but OPEN_PATHS needs the configured credentials."""

    def __init__(self, app: ASGIApp, username: str, password: str) -> None:
        self.app = app
        self.expected = f"{username}:{password}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        response = error_response(401, "unauthorized", "credentials required (HTTP Basic)")
        response.headers["WWW-Authenticate"] = 'Basic realm="mcis"'
        await response(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", []):
            if name == b"authorization" and value[:6].lower() == b"basic ":
                try:
                    given = base64.b64decode(value[6:].strip(), validate=True)
                except (binascii.Error, ValueError):
                    return False
                return secrets.compare_digest(given, self.expected)
        return False
