"""Security headers on every answer (a plain ASGI middleware: no per-request task or copy).

The pages load scripts and styles only from /static (no inline script, no inline handler, no
CDN), so the policy allows nothing else; charts are SVG documents drawn by matplotlib, which
carry their own <style> and no script: they get a policy of their own allowing only that.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
COMMON: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                svg = any(
                    name.lower() == b"content-type" and value.startswith(b"image/svg")
                    for name, value in headers
                )
                policy = SVG_POLICY if svg else PAGE_POLICY
                headers += [(n, v) for n, v in COMMON if n not in names]
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", policy.encode()))
                # Answers about patients are not for shared caches or the back button of a
                # shared computer; static files may be cached.
                if b"cache-control" not in names and not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
