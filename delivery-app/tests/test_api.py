"""Public routes under /delivery."""


def test_default_roster_is_one_courier(client):
    assert client.get("/delivery/couriers").json() == [{"id": "courier-1", "name": "Courier 1"}]


def test_roster_comes_from_settings(store, publisher):
    from delivery_app.config import Settings
    from delivery_app.main import build_app
    from fastapi.testclient import TestClient

    app = build_app(Settings(couriers=["Ann", "Bob"]), store, publisher)
    names = [c["name"] for c in TestClient(app).get("/delivery/couriers").json()]
    assert names == ["Ann", "Bob"]


def test_add_courier_answers_201_with_a_new_id(client):
    resp = client.post("/delivery/couriers", json={"name": "Bob"})
    assert resp.status_code == 201
    assert resp.json() == {"id": "courier-2", "name": "Bob"}
    assert len(client.get("/delivery/couriers").json()) == 2


def test_refuses_courier_without_a_name_and_changes_nothing(client, store):
    # The fourth was found by fuzzing: over maxLength as sent, within it once stripped.
    for body in ({"name": ""}, {"name": "   "}, {}, {"name": "\u000b&" + "*" * 199}):
        resp = client.post("/delivery/couriers", json=body)
        assert resp.status_code == 422
        assert resp.headers["content-type"] == "application/problem+json"
    assert store.data == {}


def test_bookings_list_is_empty_at_first(client):
    assert client.get("/delivery").json() == []


def test_slot_shows_free_couriers(client, send, order_id, slot):
    assert client.get(f"/delivery/slots/{slot}").json()["free_couriers"] == ["courier-1"]
    send({"order_id": order_id, "action": "reserve", "slot_start": slot})
    view = client.get(f"/delivery/slots/{slot}").json()
    assert (view["free_couriers"], view["bookings"]) == ([], {"courier-1": order_id})


def test_unknown_order_booking_is_404_and_bad_slot_is_422(client):
    assert client.get("/delivery/bookings/424242").status_code == 404
    assert client.get("/delivery/slots/not-a-time").status_code == 422


def test_a_slot_is_named_by_an_iso_time_not_a_unix_timestamp(client):
    # Found by fuzzing: `/delivery/slots/0` answered 200 with the slot of 1970-01-01.
    for raw in ("0", "1700000000", "1e9"):
        resp = client.get(f"/delivery/slots/{raw}")
        assert resp.status_code == 422, (raw, resp.text)
        assert [e["field"] for e in resp.json()["errors"]] == ["dtime"]
    for raw in ("2030-01-08 10:30:00", "2030-01-08T10:30:00Z", "2030-01-08T12:30:00+02:00"):
        assert client.get(f"/delivery/slots/{raw}").json()["slot_start"] == "2030-01-08T10:00:00Z"


def test_openapi_health_and_subscription(client):
    assert client.get("/delivery/openapi.json").status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}
    [sub] = client.get("/dapr/subscribe").json()
    assert (sub["topic"], sub["deadLetterTopic"]) == ("delivery-commands", "delivery-commands-dead")


def test_bookings_answer_with_and_without_trailing_slash(client):
    assert client.get("/delivery/", follow_redirects=False).json() == []


def test_public_api_document_shows_only_delivery_routes(client):
    paths = client.get("/delivery/openapi.json").json()["paths"]
    assert paths and all(path.startswith("/delivery") for path in paths)


def test_bookings_are_paged_newest_first_with_total_and_next_link(client, send, new_order_id):
    ids = [new_order_id() for _ in range(5)]
    for hour, oid in enumerate(ids):
        send({"order_id": oid, "action": "reserve", "slot_start": f"2031-06-01T{10 + hour}:00:00Z"})
    send({"order_id": ids[1], "action": "release"})

    pages, url = [], "/delivery?limit=2"
    while url:
        resp = client.get(url)
        assert resp.headers["X-Total-Count"] == "5"
        pages.append([(b["id_order"], b["status"]) for b in resp.json()])
        url = resp.links.get("next", {}).get("url")
        assert url is None or resp.headers["Link"] == f'<{url}>; rel="next"'
    booked = [(oid, "released" if oid == ids[1] else "booked") for oid in reversed(ids)]
    assert pages == [booked[:2], booked[2:4], booked[4:]]
    assert client.get("/delivery?limit=2&before=3").links["next"]["url"] == "/delivery?limit=2&before=1"
    first = client.get("/delivery").json()[0]
    assert first == {
        "id": ids[4],
        "id_order": ids[4],
        "dtime": "2031-06-01T14:00:00Z",
        "slot_end": "2031-06-01T15:00:00Z",
        "courier": "courier-1",
        "status": "booked",
    }


def test_bookings_default_page_is_twenty_and_has_no_link_when_all_fit(client, send, new_order_id):
    for day in range(1, 23):
        send({"order_id": new_order_id(), "action": "reserve", "slot_start": f"2031-07-{day:02}T10:00:00Z"})
    resp = client.get("/delivery")
    assert (len(resp.json()), resp.headers["X-Total-Count"]) == (20, "22")
    assert resp.links["next"]["url"] == "/delivery?limit=20&before=2"
    resp = client.get("/delivery?limit=100")
    assert len(resp.json()) == 22 and "Link" not in resp.headers
    assert client.get("/delivery?before=0").json() == []


def test_bookings_page_parameters_out_of_range_are_422(client):
    for query, field in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=x", "limit"),
        ("before=-1", "before"),
    ]:
        resp = client.get(f"/delivery?{query}")
        assert resp.status_code == 422, query
        assert resp.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in resp.json()["errors"]] == [field]


def test_a_courier_name_is_stored_without_surrounding_whitespace(client):
    assert client.post("/delivery/couriers", json={"name": "  Bob "}).json()["name"] == "Bob"
