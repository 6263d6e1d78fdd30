"""``/docs``: Swagger UI over ``/openapi.json``, its assets served from the package.

FastAPI's own ``/docs`` and ``/redoc`` pages load their JavaScript and CSS from a CDN, so they
are blank on a machine without Internet access and tell a third party who reads the API docs.
The app turns both off (``docs_url=None``, ``redoc_url=None``) and this module serves the same
Swagger UI page with every asset at a same-origin URL under ``/docs/static/``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

DOCS_PATH = "/docs"
STATIC_PATH = f"{DOCS_PATH}/static"
ASSETS = Path(__file__).resolve().parent / "static" / "swagger-ui"
SWAGGER_UI_VERSION = "5.35.0"  # the npm package swagger-ui-dist the files in ASSETS come from


def install_swagger_ui(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` and its packaged assets under ``/docs/static``."""
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title} API"

    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{STATIC_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_PATH}/favicon-32x32.png",
        )

    app.add_api_route(DOCS_PATH, swagger_ui, methods=["GET"], include_in_schema=False)
    app.mount(STATIC_PATH, StaticFiles(directory=ASSETS), name="swagger-ui-assets")


__all__ = ["ASSETS", "DOCS_PATH", "STATIC_PATH", "SWAGGER_UI_VERSION", "install_swagger_ui"]
