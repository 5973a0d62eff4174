"""API documentation that renders with no internet: Swagger UI assets served by the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import litestar_offline_docs
from litestar import MediaType, Request, Response, get
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from nexgate.worker.app import VERSION, asyncapi

ASSETS = "/schema/assets"
# Swagger UI 5 (OpenAPI 3.1) and the AsyncAPI web component, shipped inside a PyPI package.
_ASSET_DIR = Path(litestar_offline_docs.__file__).parent / "static"


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Nexgate API",
        version=VERSION,
        description="Social commerce for East Africa: products, events, feeds and mobile-money checkout.",
        path="/schema",
        render_plugins=[
            SwaggerRenderPlugin(
                js_url=f"{ASSETS}/swagger-ui-bundle.js",
                css_url=f"{ASSETS}/swagger-ui.css",
                standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
                path="/swagger",
                favicon="",
            )
        ],
    )


swagger_assets = create_static_files_router(
    path=ASSETS, directories=[_ASSET_DIR], include_in_schema=False, name="swagger-assets"
)


@get("/docs", include_in_schema=False)
async def docs_home() -> Redirect:
    return Redirect("/schema/swagger")


_ASYNCAPI_PAGE = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Nexgate messages</title>
  <link rel="stylesheet" href="{ASSETS}/default.min.css">
</head>
<body>
  <asyncapi-component schemaUrl="/docs/asyncapi-2.6.json" cssImportPath="{ASSETS}/default.min.css"
    config='{{"show": {{"sidebar": true}}}}'></asyncapi-component>
  <script src="{ASSETS}/asyncapi-web-component.js" defer></script>
</body>
</html>
"""


@get("/docs/asyncapi", include_in_schema=False, media_type=MediaType.HTML)
async def asyncapi_page() -> str:
    """The message docs, rendered by the AsyncAPI web component served from local assets."""
    return _ASYNCAPI_PAGE


@get("/docs/asyncapi-2.6.json", include_in_schema=False)
async def asyncapi_2_document(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """The same document in AsyncAPI 2.6: the bundled web component cannot render 3.0 yet."""
    return Response(asyncapi(request.app.state.worker_spec, "2.6.0").to_specification().to_jsonable())


@get("/docs/asyncapi.json", include_in_schema=False, summary="AsyncAPI 3.0 document of the messages")
async def asyncapi_document(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    return Response(asyncapi(request.app.state.worker_spec).to_specification().to_jsonable())
