"""The API docs page (Swagger UI) from files the app serves itself, so it works offline.

FastAPI's own page loads swagger-ui-dist from a CDN and its favicon from
fastapi.tiangolo.com: without the internet it stays blank. Here the page and its
assets live under the app's public prefix (`{prefix}/docs`, `{prefix}/docs/assets/...`),
so the gateway and the ingress route them like the rest of the API.

The assets come from the npm package web/ pins: `make web-assets` (mk/web.mk) copies
them next to this module, and the image's build does the same (Dockerfile), so an
editable install and the installed package both find them in `swagger_ui/`.
"""

import logging
from html import escape
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response

from dapr_helpers.problems import problem_response

ASSETS_DIR = Path(__file__).with_name("swagger_ui")
# Only these files are served, each with its type (mimetypes' guess for .js varies by Python).
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
MISSING_HINT = "run `make web-assets` (npm ci in web/), then reload this page"


def missing_assets(assets_dir: Path = ASSETS_DIR) -> list[str]:
    """The Swagger UI files not found in `assets_dir`."""
    return [name for name in ASSETS if not (assets_dir / name).is_file()]


def add_swagger_ui(app: FastAPI, prefix: str, openapi_url: str, assets_dir: Path = ASSETS_DIR) -> None:
    """Serve Swagger UI at `{prefix}/docs` on the local assets; neither route is in the API document."""
    assets_url = f"{prefix}/docs/assets"
    if missing_assets(assets_dir):  # said at start too, not only to whoever opens the page
        logging.getLogger(__name__).warning("API docs at %s/docs are unavailable: %s", prefix, MISSING_HINT)

    @app.get(f"{prefix}/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        # Checked on each request: assets built after start are picked up without a restart.
        missing = missing_assets(assets_dir)
        if missing:  # say what to run rather than fall back to a CDN
            page = _missing_page(app.title, missing, assets_dir, openapi_url)
            return HTMLResponse(page, status_code=503)
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{assets_url}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets_url}/swagger-ui.css",
            swagger_favicon_url=f"{assets_url}/favicon-32x32.png",
            oauth2_redirect_url=None,  # no OAuth here
            # Off: Swagger UI would otherwise ask validator.swagger.io about the document.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(f"{assets_url}/{{name}}", include_in_schema=False)
    async def swagger_ui_asset(name: str) -> Response:
        if name not in ASSETS:  # an allow-list: nothing else in the folder, no `..`
            return problem_response(404, "not_found", f"no docs asset {name!r}")
        path = assets_dir / name
        if not path.is_file():
            return problem_response(404, "not_found", f"docs asset {name!r} is missing: {MISSING_HINT}")
        return FileResponse(path, media_type=ASSETS[name])


def _missing_page(title: str, missing: list[str], assets_dir: Path, openapi_url: str) -> str:
    files = ", ".join(missing)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{escape(title)} - API docs unavailable</title></head><body>"
        f"<h1>{escape(title)}: the API docs' assets are missing</h1>"
        f"<p>Swagger UI's files ({escape(files)}) are not in <code>{escape(str(assets_dir))}</code>: "
        f"{escape(MISSING_HINT)}.</p>"
        f"<p>The OpenAPI document itself is at <a href='{escape(openapi_url)}'>{escape(openapi_url)}</a>.</p>"
        "</body></html>"
    )
