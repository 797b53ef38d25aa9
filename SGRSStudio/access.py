"""Who may use the Studio: whoever holds its token, the way Jupyter does it.

    access = Access.random()                 # or Access("chosen"), or Access(None): no token (loopback only)
    access.install(wslink_server)            # ctrl.on_server_bind: before wslink registers its routes
    print(access.url("127.0.0.1", 8080))     # http://127.0.0.1:8080/?token=...  (the one line that shows it)

The first request that carries ``?token=`` sets an HttpOnly, SameSite=Strict cookie, so reloads, static
files and the websocket work without it. Any other request (page, static file, download, websocket
upgrade, and with it every upload, which travels over the websocket) gets 403 and nothing else.
Another account on a shared server can reach a loopback port; it cannot guess the token.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from urllib.parse import quote

TOKEN_ENV = "SGRS_STUDIO_TOKEN"
REFUSED = "403 Forbidden: open the address with ?token=... that sgrs-studio printed when it started.\n"
# aiohttp's loggers that can write a request's path and query (the access log's request line, a referrer)
REQUEST_LOGGERS = ("aiohttp.access", "aiohttp.server", "aiohttp.web")


class Access:
    def __init__(self, token: str | None):
        if token is not None and not token.strip():
            raise ValueError("the Studio's token must not be empty")
        self.token = token

    @classmethod
    def random(cls) -> Access:
        return cls(secrets.token_urlsafe(32))

    @property
    def cookie_name(self) -> str:
        """One cookie per token: cookies ignore ports, so two Studios on one host keep theirs apart."""
        return "sgrs-studio-" + hashlib.sha256(self.token.encode()).hexdigest()[:12]

    def url(self, host: str, port: int) -> str:
        host = f"[{host}]" if ":" in host else host
        base = f"http://{host}:{port}/"
        return base if self.token is None else f"{base}?token={quote(self.token, safe='')}"

    def matches(self, given: str | None) -> bool:
        """Constant-time comparison: how long a refusal takes says nothing about the token."""
        if self.token is None or given is None:
            return False
        return hmac.compare_digest(given.encode(), self.token.encode())

    def install(self, wslink_server) -> None:
        if self.token is None:
            return
        wslink_server.app.middlewares.append(self._middleware())
        redact = _Redact(self.token)
        for name in REQUEST_LOGGERS:
            logging.getLogger(name).addFilter(redact)

    def _middleware(self):
        from aiohttp import web

        @web.middleware
        async def check_token(request, handler):
            if self.matches(request.query.get("token")):
                try:
                    response = await handler(request)
                except web.HTTPException as redirect:   # wslink's "/" -> "index.html?token=..."
                    self._remember(redirect)
                    raise
                if not response.prepared:   # a websocket's response is long gone by now
                    self._remember(response)
                return response
            if self.matches(request.cookies.get(self.cookie_name)):
                return await handler(request)
            return web.Response(status=403, text=REFUSED)

        return check_token

    def _remember(self, response) -> None:
        response.set_cookie(self.cookie_name, self.token, httponly=True, samesite="Strict", path="/")
        response.headers["Referrer-Policy"] = "no-referrer"   # the URL with the token goes nowhere else


class _Redact(logging.Filter):
    """Replaces the token in a log record (the access log's request line and referrer carry the URL)."""

    def __init__(self, token: str):
        super().__init__()
        self.secrets = {token, quote(token, safe="")}

    def _clean(self, value):
        if isinstance(value, str):
            for secret in self.secrets:
                value = value.replace(secret, "<token>")
            return value
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._clean(record.getMessage())
        record.args = ()
        for key, value in list(vars(record).items()):
            if isinstance(value, (str, dict)) and key != "msg":
                setattr(record, key, self._clean(value))
        return True
