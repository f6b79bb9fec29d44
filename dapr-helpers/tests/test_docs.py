"""The API docs page works offline: Swagger UI on assets the app serves itself (dapr_helpers.docs)."""

import re
from pathlib import Path

import pytest
from dapr_helpers.docs import ASSETS, ASSETS_DIR, add_swagger_ui, missing_assets
from dapr_helpers.service import service_app
from fastapi import FastAPI
from fastapi.testclient import TestClient

needs_assets = pytest.mark.skipif(
    bool(missing_assets()), reason=f"Swagger UI's files are not in {ASSETS_DIR}: run `make web-assets`"
)


def make_app() -> FastAPI:
    app = service_app("things", "Things.", prefix="/things")

    @app.get("/things")
    async def things() -> list[str]:
        return []

    return app


def urls_in(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)|url: *'([^']+)'""", html)


@needs_assets
def test_the_docs_page_loads_nothing_from_another_host() -> None:
    resp = TestClient(make_app()).get("/things/docs")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    html = resp.text
    assert not re.search(r"https?://|//cdn|jsdelivr|unpkg|tiangolo", html), html
    found = {u for pair in urls_in(html) for u in pair if u}
    assert found == {
        "/things/docs/assets/swagger-ui-bundle.js",
        "/things/docs/assets/swagger-ui.css",
        "/things/docs/assets/favicon-32x32.png",
        "/things/openapi.json",
    }


@needs_assets
@pytest.mark.parametrize(("name", "content_type"), sorted(ASSETS.items()))
def test_each_asset_is_served_with_its_type(name: str, content_type: str) -> None:
    resp = TestClient(make_app()).get(f"/things/docs/assets/{name}")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == content_type
    assert resp.content == (ASSETS_DIR / name).read_bytes()


def test_only_the_listed_assets_are_served() -> None:
    client = TestClient(make_app())
    resp = client.get("/things/docs/assets/package.json")  # in swagger-ui-dist, not listed
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/problem+json"
    assert client.get("/things/docs/assets/..%2F..%2Fdocs.py").status_code == 404


def test_the_docs_routes_stay_out_of_the_api_document() -> None:
    paths = TestClient(make_app()).get("/things/openapi.json").json()["paths"]
    assert sorted(paths) == ["/things"]


def test_without_the_assets_the_page_says_what_to_run(tmp_path: Path) -> None:
    app = FastAPI(docs_url=None, openapi_url="/shop/openapi.json", title="shop")
    add_swagger_ui(app, "/shop", "/shop/openapi.json", assets_dir=tmp_path)
    resp = TestClient(app).get("/shop/docs")
    assert resp.status_code == 503
    assert resp.headers["content-type"].startswith("text/html")
    assert "make web-assets" in resp.text
    assert not re.search(r"https?://", resp.text), "no CDN fallback"
    resp = TestClient(app).get("/shop/docs/assets/swagger-ui.css")
    assert resp.status_code == 404
    assert "make web-assets" in resp.json()["detail"]


def test_assets_built_after_start_are_picked_up(tmp_path: Path) -> None:
    app = FastAPI(docs_url=None, openapi_url="/shop/openapi.json", title="shop")
    add_swagger_ui(app, "/shop", "/shop/openapi.json", assets_dir=tmp_path)
    client = TestClient(app)
    assert client.get("/shop/docs").status_code == 503
    for name in ASSETS:
        (tmp_path / name).write_bytes(b"x")
    assert client.get("/shop/docs").status_code == 200
    assert client.get("/shop/docs/assets/swagger-ui.css").content == b"x"


def test_make_web_assets_puts_the_files_where_the_app_looks() -> None:
    """mk/web.mk and the Dockerfile copy the files dapr_helpers.docs.ASSETS lists, into ASSETS_DIR."""
    repo = Path(__file__).resolve().parents[2]
    mk = (repo / "mk" / "web.mk").read_text()
    dockerfile = (repo / "Dockerfile").read_text()
    for name in ASSETS:
        assert name in mk and name in dockerfile, name
    assert str(ASSETS_DIR.relative_to(repo)) in mk
    assert str(ASSETS_DIR.relative_to(repo)) in dockerfile
