"""Public routes under /stock, with the assignment's request shapes."""

import pytest


def test_register_answers_with_integer_id_and_lists_available_units(client):
    resp = client.post("/stock/register", json={"description": "apple", "quantity": 100})
    assert resp.status_code == 201
    pid = resp.json()["id"]
    assert isinstance(pid, int)
    listed = {p["id"]: p for p in client.get("/stock").json()}
    assert {k: listed[pid][k] for k in ("id", "description", "quantity")} == {
        "id": pid,
        "description": "apple",
        "quantity": 100,
    }


def test_register_hands_out_consecutive_ids(client):
    first = client.post("/stock/register", json={"description": "a", "quantity": 1}).json()["id"]
    second = client.post("/stock/register", json={"description": "b", "quantity": 1}).json()["id"]
    assert second == first + 1


def test_register_accepts_quntity_and_a_price(client):
    resp = client.post("/stock/register", json={"description": "pear", "quntity": 7, "price": "1.25"})
    assert resp.status_code == 201
    assert (resp.json()["quantity"], resp.json()["price"]) == (7, 1.25)


@pytest.mark.parametrize(
    "body",
    [
        {"description": "x", "quantity": -1},
        {"description": "", "quantity": 1},
        {"quantity": 1},
        {"description": "x", "quantity": "many"},
        # Found by fuzzing: JSON false was read as 0 units.
        {"description": "x", "quantity": False},
        # Found by fuzzing as well: the string "0" was read as 0 units.
        {"description": "x", "quantity": "0"},
        {"description": "x", "quantity": 1, "price": "1.001"},
        # Found by fuzzing: over maxLength as sent, within it once stripped, was accepted.
        {"description": " " + "x" * 500, "quantity": 1},
        {"description": "   ", "quantity": 1},
    ],
)
def test_refuses_bad_registration_and_changes_nothing(client, store, body):
    resp = client.post("/stock/register", json=body)
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"
    assert store.data == {}


def test_restock_adds_available_units(client, product):
    pid = product(3)
    resp = client.post(f"/stock/{pid}/restock", json={"quantity": 2})
    assert resp.status_code == 200
    assert (resp.json()["quantity"], resp.json()["restocked"]) == (5, 2)


def test_refuses_bad_restock_and_changes_nothing(client, store, product):
    pid = product(3)
    before = store.snapshot()
    assert client.post(f"/stock/{pid}/restock", json={"quantity": 0}).status_code == 422
    resp = client.post("/stock/999999/restock", json={"quantity": 1})
    assert (resp.status_code, resp.json()["code"]) == (404, "unknown_product")
    assert store.snapshot() == before


def test_unknown_product_and_order_are_404(client):
    assert client.get("/stock/999999").json()["code"] == "unknown_product"
    assert client.get("/stock/999999").status_code == 404
    assert client.get("/stock/reservations/123456").status_code == 404
    assert client.get("/stock/not-a-number").status_code == 422


def test_openapi_health_and_subscription(client):
    assert client.get("/stock/openapi.json").status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}
    [sub] = client.get("/dapr/subscribe").json()
    assert (sub["topic"], sub["deadLetterTopic"]) == ("stock-commands", "stock-commands-dead")


def test_list_answers_with_and_without_trailing_slash(client, product):
    pid = product(1)
    assert [p["id"] for p in client.get("/stock/", follow_redirects=False).json()] == [pid]


def test_public_api_document_shows_only_stock_routes(client):
    paths = client.get("/stock/openapi.json").json()["paths"]
    assert paths and all(path.startswith("/stock") for path in paths)


def test_the_directory_answers_whether_a_product_exists_with_200_either_way(client):
    """The order app's lookup: an unknown product is an answer, never a failure status
    that Dapr's resiliency would retry and count towards its circuit breaker."""
    pid = client.post("/stock/register", json={"description": "fig", "quantity": 1}).json()["id"]
    resp = client.get("/directory/product", params={"id": pid})
    assert (resp.status_code, resp.json()) == (200, {"exists": True})
    assert client.get("/directory/product", params={"id": pid + 1}).json() == {"exists": False}
    assert client.get("/directory/product", params={"id": "x"}).status_code == 422


def test_a_description_is_stored_without_surrounding_whitespace(client):
    assert (
        client.post("/stock/register", json={"description": "  apple ", "quantity": 1}).json()["description"]
        == "apple"
    )
