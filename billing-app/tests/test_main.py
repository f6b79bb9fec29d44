from billing_app.config import Settings
from billing_app.main import create_app
from fastapi.testclient import TestClient


def test_starts_and_serves_docs_without_a_sidecar(restore_logging):
    # Nothing may connect at startup: no sidecar runs here.
    with TestClient(create_app(Settings())) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {"status": "ready"}
        assert client.get("/billing/docs").status_code == 200
        assert client.get("/billing/openapi.json").json()["info"]["title"] == "billing"


def test_settings_default_to_the_components_and_read_the_environment(monkeypatch):
    assert Settings().state_store == "billing-store"
    assert (Settings().pubsub_name, Settings().commands_topic) == ("pubsub", "billing-commands")
    monkeypatch.setenv("STATE_STORE", "other-store")
    monkeypatch.setenv("APP_PORT", "9999")
    assert (Settings().state_store, Settings().app_port) == ("other-store", 9999)
