"""One TLS context for every provider call: building httpx's default one (the certifi bundle)
costs ~80 ms of CPU, which a fresh client per call would pay each time."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
