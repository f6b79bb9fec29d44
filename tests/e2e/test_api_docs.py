"""Each app's API docs (Swagger UI at `/<prefix>/docs`) render offline, through the gateway.

The browser refuses every request off this machine, so a page that still needs a CDN
(FastAPI's default: swagger-ui-dist from cdn.jsdelivr.net) renders no operations and
records the refused URL.
"""

from __future__ import annotations

import pytest

from .browser import Tab
from .stack import Stack

# prefix -> (the app's title, a path of its API that Swagger UI lists as an operation)
DOCS = {
    "/orders": ("order", "/orders/{order_id}"),
    "/billing": ("billing", "/billing/register"),
    "/stock": ("stock", "/stock/register"),
    "/delivery": ("delivery", "/delivery/couriers"),
}
STYLED = """() => [...document.styleSheets].some(
    (sheet) => (sheet.href || "").endsWith("/docs/assets/swagger-ui.css") && sheet.cssRules.length > 0
)"""


@pytest.mark.parametrize("prefix", sorted(DOCS))
def test_the_api_docs_render_without_leaving_the_machine(prefix: str, stack: Stack, tab: Tab) -> None:
    title, path = DOCS[prefix]
    page = tab.page
    response = page.goto(f"{stack.url}{prefix}/docs")
    assert response is not None and response.status == 200
    # Rendered by Swagger UI from the app's own OpenAPI document, not just the HTML shell.
    operation = page.locator(f'.opblock .opblock-summary-path[data-path="{path}"]')
    operation.first.wait_for(state="visible", timeout=20_000)
    assert page.locator(".opblock").count() > 1
    assert page.locator(".swagger-ui .info .title").inner_text().startswith(title)
    assert page.evaluate(STYLED), "swagger-ui.css did not load"
    page.wait_for_load_state("networkidle")
    assert tab.offsite == []
