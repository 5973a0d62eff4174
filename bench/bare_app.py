"""The baseline of http_hello: a bare Litestar app, nothing but one JSON route.

Served by ``granian --interface asgi bare_app:app`` (with bench/ on PYTHONPATH).
"""

from __future__ import annotations

from litestar import Litestar, get


@get("/hello")
async def hello() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar(route_handlers=[hello])
