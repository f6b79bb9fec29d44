"""Access control on service invocation: the callee's `Configuration.accessControl`.

Mirrors dapr/dapr `pkg/acl`: the policy of the *called* app decides, by caller
app id, operation (`*` one path segment, `**` any) and HTTP verb; a caller
with no policy gets the global `defaultAction`; a denied call fails with 403
ERR_DIRECT_INVOKE and never reaches the app. (daprd identifies callers by
their mTLS certificate; localdapr knows them directly.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dapr.clients import DaprClient
from dapr.clients.exceptions import DaprHttpError
from dapr.conf import settings

from .app import Recorder
from .app_invoke import echo_app, private_localdapr
from .conftest import TARGET

pytestmark = pytest.mark.skipif(TARGET == "daprd", reason="starts its own localdapr with an ACL")

ACL = {
    "apiVersion": "dapr.io/v1alpha1",
    "kind": "Configuration",
    "metadata": {"name": "callee-acl"},
    "spec": {
        "accessControl": {
            "defaultAction": "deny",
            "trustDomain": "public",
            "policies": [
                {
                    "appId": "acl-friend",
                    "defaultAction": "deny",
                    "trustDomain": "public",
                    "namespace": "default",
                    "operations": [
                        {"name": "/invoke/echo/**", "httpVerb": ["GET", "PUT"], "action": "allow"},
                        {"name": "/invoke/status/*", "httpVerb": ["*"], "action": "allow"},
                    ],
                }
            ],
        }
    },
}


@pytest.fixture(scope="module")
def acl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Recorder]]:
    recorder = Recorder()
    apps = [
        {"app_id": "acl-callee", "app": echo_app("acl-callee", recorder), "config": ACL},
        {"app_id": "acl-friend"},
        {"app_id": "acl-stranger"},
    ]
    with private_localdapr(Path(tmp_path_factory.mktemp("acl")), apps) as sidecars:
        yield sidecars, recorder


def _call(sidecars: dict[str, Any], caller: str, method: str, verb: str, mp: pytest.MonkeyPatch) -> Any:
    sc = sidecars[caller]
    mp.setattr(settings, "DAPR_HTTP_PORT", sc.http_port)
    mp.setattr(settings, "DAPR_RUNTIME_HOST", "127.0.0.1")
    with DaprClient(address=sc.grpc_address) as d:
        return d.invoke_method("acl-callee", method, http_verb=verb)


def test_allowed_operation_and_verb_reach_the_app(acl: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An operation rule matching the caller, path (`**`) and verb allows the call."""
    resp = _call(acl[0], "acl-friend", "invoke/echo/a/b/c", "GET", monkeypatch)
    assert json.loads(resp.data)["headers"]["dapr-caller-app-id"] == "acl-friend"
    assert _call(acl[0], "acl-friend", "invoke/status/200", "DELETE", monkeypatch).status_code == 200


def test_unlisted_verb_falls_back_to_the_caller_policy_default(
    acl: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A matching operation with another verb gets the caller policy's defaultAction (deny): 403."""
    before = len(acl[1].get("invoke:acl-callee"))
    with pytest.raises(DaprHttpError) as err:
        _call(acl[0], "acl-friend", "invoke/echo/a", "POST", monkeypatch)
    assert err.value.status_code == 403
    assert err.value.error_code == "ERR_DIRECT_INVOKE"
    assert "access control policy has denied access" in str(err.value)
    assert len(acl[1].get("invoke:acl-callee")) == before  # the app never saw it


def test_single_star_matches_one_segment_only(acl: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`/invoke/status/*` does not cover `/invoke/status/200/more`."""
    with pytest.raises(DaprHttpError) as err:
        _call(acl[0], "acl-friend", "invoke/status/200/more", "GET", monkeypatch)
    assert err.value.status_code == 403


def test_caller_without_policy_gets_the_global_default(acl: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An app id with no policy gets `accessControl.defaultAction` (deny here)."""
    with pytest.raises(DaprHttpError) as err:
        _call(acl[0], "acl-stranger", "invoke/echo/a", "GET", monkeypatch)
    assert err.value.status_code == 403
