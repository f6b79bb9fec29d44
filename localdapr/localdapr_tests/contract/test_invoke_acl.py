"""Access control on service invocation: the callee's `Configuration.accessControl`.

Mirrors dapr/dapr `pkg/acl` (ParseAccessControlSpec, ApplyAccessControlPolicies), applied by
the called app's sidecar (`pkg/api/grpc/daprinternal.go` callLocalValidateACL). An app policy
matches a caller by the SPIFFE id of its mTLS certificate. Neither daprd run standalone
without Sentry nor localdapr has mTLS, so no caller can be identified and the global
`defaultAction` decides for every caller, app policies or not: the docs' policy rule 4
(operations/configuration/invoke-allowlist: "If access policies are defined and the incoming
app credentials cannot be verified, then the global default action takes effect"). A denied
call fails with 403 ERR_DIRECT_INVOKE and never reaches the app.
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
from .app_invoke import echo_app
from .runtimes import private_sidecars


def acl(default_action: str, caller_action: str) -> dict[str, Any]:
    """A Configuration whose app policy gives `acl-friend` `caller_action` on every operation."""
    return {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Configuration",
        "metadata": {"name": f"acl-{default_action}"},
        "spec": {
            "accessControl": {
                "defaultAction": default_action,
                "trustDomain": "public",
                "policies": [
                    {
                        "appId": "acl-friend",
                        "defaultAction": caller_action,
                        "trustDomain": "public",
                        "namespace": "default",
                        "operations": [{"name": "/invoke/**", "httpVerb": ["*"], "action": caller_action}],
                    }
                ],
            }
        },
    }


@pytest.fixture(scope="module")
def sidecars(runtime: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Recorder]]:
    recorder = Recorder()
    apps: list[dict[str, Any]] = [
        # Denies by default, allows acl-friend by policy.
        {"app_id": "acl-closed", "app": echo_app("acl-closed", recorder), "config": acl("deny", "allow")},
        # Allows by default, denies acl-friend by policy.
        {"app_id": "acl-open", "app": echo_app("acl-open", recorder), "config": acl("allow", "deny")},
        {"app_id": "acl-friend"},
    ]
    with private_sidecars(runtime, Path(tmp_path_factory.mktemp("acl")), apps) as started:
        yield started, recorder


def _call(sidecars: Any, callee: str, method: str, verb: str, mp: pytest.MonkeyPatch) -> Any:
    sc = sidecars["acl-friend"]
    mp.setattr(settings, "DAPR_HTTP_PORT", sc.http_port)
    mp.setattr(settings, "DAPR_RUNTIME_HOST", "127.0.0.1")
    with DaprClient(address=sc.grpc_address) as d:
        return d.invoke_method(callee, method, http_verb=verb)


def test_the_global_default_denies_even_a_caller_its_policy_allows(
    sidecars: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller cannot be identified, so acl-friend's allow policy never applies: deny, 403,
    naming no caller (the SPIFFE id is empty) and the operation as sent; the app never sees it."""
    started, recorder = sidecars
    with pytest.raises(DaprHttpError) as err:
        _call(started, "acl-closed", "invoke/echo/a/b/c", "GET", monkeypatch)
    assert err.value.status_code == 403
    assert err.value.error_code == "ERR_DIRECT_INVOKE"
    assert str(err.value.message) == (
        "failed to invoke, id: acl-closed, err: rpc error: code = PermissionDenied desc = access control "
        "policy has denied access to id:  operation: invoke/echo/a/b/c verb: GET"
    )
    assert recorder.get("invoke:acl-closed") == []


def test_the_global_default_allows_even_a_caller_its_policy_denies(
    sidecars: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """And the other way round: with `defaultAction: allow`, a deny policy for the caller
    changes nothing without mTLS."""
    started, recorder = sidecars
    resp = _call(started, "acl-open", "invoke/echo/a", "POST", monkeypatch)
    assert json.loads(resp.data)["headers"]["dapr-caller-app-id"] == "acl-friend"
    assert len(recorder.get("invoke:acl-open")) == 1
