"""The chart agrees with the code: dapr.yaml, components/, docs/messaging.md, gateway.yaml
and the apps' sources (see contract.py). Each check also has a test proving it fails
when one side is renamed."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from . import contract
from .conftest import CHART_DIR, merged_values, rendered
from .helmtool import render


def test_app_ids_ports_and_commands_match_the_run_file(case: str) -> None:
    assert contract.apps_problems(rendered(case)) == []


def test_components_match_the_local_components(case: str) -> None:
    assert contract.components_problems(rendered(case)) == []


def test_topics_match_the_messaging_contract(case: str) -> None:
    assert contract.topics_problems(rendered(case), merged_values(case)) == []


def test_resiliency_targets_exist_and_cover_the_local_ones(case: str) -> None:
    assert contract.resiliency_problems(rendered(case)) == []


def test_ingress_routes_match_the_gateway(case: str) -> None:
    assert contract.ingress_problems(rendered(case)) == []


def test_only_the_apps_that_call_each_other_may_invoke_them(case: str) -> None:
    assert contract.access_control_problems(rendered(case)) == []


def test_the_apps_sources_name_only_documented_topics_and_their_own_store() -> None:
    assert contract.app_source_problems() == []


def test_the_messaging_contract_has_the_saga_topics() -> None:
    topics = contract.documented_topics()
    assert set(topics) == {"stock-commands", "delivery-commands", "billing-commands", "order-replies"}
    assert topics["order-replies"].publishers == {"stock", "delivery", "billing"}
    assert contract.documented_dead_letter_readers() == {"order-replies-dead": "order"}


def test_order_may_subscribe_to_its_replies_dead_letters_and_nobody_else_to_any(case: str) -> None:
    pubsub = next(m.obj for m in rendered(case) if m.kind == "Component" and m.name == "pubsub")
    md = contract.component_metadata(pubsub)
    if not merged_values(case)["messaging"]["scopeTopics"]:
        assert "subscriptionScopes" not in md
        return
    subscriptions = contract._scopes(md["subscriptionScopes"])
    assert subscriptions["order"] == {"order-replies", "order-replies-dead"}
    for app in ("stock", "delivery", "billing"):
        assert subscriptions[app] == {f"{app}-commands"}, app


def test_every_app_folder_holds_the_module_the_chart_starts() -> None:
    values = merged_values("default")
    for app_id, app in contract.run_file_apps().items():
        charted = values["apps"][app_id]
        assert (charted["folder"], charted["module"]) == (app.folder, app.module)
        assert (contract.REPO / app.folder / "src" / app.module).is_dir(), app.folder


# --- a rename on either side fails a check ------------------------------------------


@pytest.mark.parametrize(
    ("values", "check"),
    [
        ({"apps": {"order": {"stateStore": {"name": "orders-store"}}}}, contract.components_problems),
        ({"apps": {"billing": {"stateStore": {"tableName": "payments"}}}}, contract.components_problems),
        ({"messaging": {"pubsubName": "saga-pubsub"}}, contract.components_problems),
        ({"apps": {"billing": {"port": 8012}}}, contract.apps_problems),
        ({"apps": {"stock": {"module": "stocks_app"}}}, contract.apps_problems),
        ({"apps": {"stock": {"publicPrefix": "/stocks"}}}, contract.ingress_problems),
        ({"accessControl": {"allowedCallers": {"delivery": []}}}, contract.access_control_problems),
        ({"accessControl": {"allowedCallers": {"stock": []}}}, contract.access_control_problems),
        ({"resiliency": {"invokeTargets": ["billing"]}}, contract.resiliency_problems),
        (
            {
                "resiliency": {
                    "policies": {"retries": {"invokeRetry": {"matching": {"httpStatusCodes": "500"}}}}
                }
            },
            contract.resiliency_problems,
        ),
        ({"resiliency": {"policies": {"timeouts": {"invoke": "3s"}}}}, contract.resiliency_problems),
        ({"messaging": {"maxLenApprox": "500"}}, contract.components_problems),
    ],
    ids=lambda v: v.__name__ if callable(v) else str(v),
)
def test_a_renamed_chart_value_is_caught(values: dict[str, Any], check: Any) -> None:
    assert check(render(CHART_DIR, values)) != []


def test_a_renamed_topic_in_the_chart_is_caught() -> None:
    """The topics are fixed in the templates: rename one in the rendered component."""
    manifests = copy.deepcopy(rendered("default"))
    pubsub = next(m.obj for m in manifests if m.kind == "Component" and m.name == "pubsub")
    for item in pubsub["spec"]["metadata"]:
        if item["name"] in ("allowedTopics", "publishingScopes", "subscriptionScopes"):
            item["value"] = re.sub(r"\bstock-commands\b", "stock-command", item["value"])
    problems = contract.topics_problems(manifests, merged_values("default"))
    assert any("allowedTopics" in p for p in problems), problems
    assert any("publishingScopes: order" in p for p in problems), problems
    assert any("subscriptionScopes: stock" in p for p in problems), problems


def test_a_dead_letter_subscription_missing_from_the_chart_is_caught() -> None:
    manifests = copy.deepcopy(rendered("default"))
    pubsub = next(m.obj for m in manifests if m.kind == "Component" and m.name == "pubsub")
    for item in pubsub["spec"]["metadata"]:
        if item["name"] == "subscriptionScopes":
            item["value"] = item["value"].replace("order-replies,order-replies-dead", "order-replies")
    problems = contract.topics_problems(manifests, merged_values("default"))
    assert problems == [
        "subscriptionScopes: order may use ['order-replies'], "
        "docs say ['order-replies', 'order-replies-dead']"
    ]


def test_a_changed_local_resiliency_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    local = copy.deepcopy(contract.local_components())
    policies = local["Resiliency/saga-resiliency"]["spec"]["policies"]
    policies["retries"]["invokeRetry"]["maxRetries"] = 2
    monkeypatch.setattr(contract, "local_components", lambda: local)
    problems = contract.resiliency_problems(rendered("default"))
    assert problems == [
        "resiliency spec.policies.retries.invokeRetry.maxRetries (3 != 2) "
        "differs from components/resiliency.yaml"
    ]


def test_a_renamed_topic_in_the_contract_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    topics = contract.documented_topics()
    renamed = topics.pop("billing-commands")
    topics["payment-commands"] = contract.Topic("payment-commands", renamed.publishers, renamed.subscribers)
    monkeypatch.setattr(contract, "documented_topics", lambda: topics)
    assert contract.topics_problems(rendered("default"), merged_values("default")) != []


def test_a_renamed_topic_or_store_in_an_app_is_caught(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    source = tmp_path / "config.py"
    source.write_text('commands_topic = "stock-command"\nstate_store = "orders-store"\n')
    monkeypatch.setattr(contract, "app_sources", lambda folder: [source] if folder == "stock-app" else [])
    problems = contract.app_source_problems()
    assert any("'stock-command'" in p for p in problems), problems
    assert any("'orders-store'" in p for p in problems), problems
    assert any("never names 'stock-commands'" in p for p in problems), problems


def test_a_renamed_local_component_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    local = contract.local_components()
    store = local.pop("Component/stock-store")
    store = {**store, "metadata": {"name": "stocks-store"}}
    local["Component/stocks-store"] = store
    monkeypatch.setattr(contract, "local_components", lambda: local)
    assert contract.components_problems(rendered("default")) != []


def seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"([0-9.]+)(ms|s|m|h)", duration))


def test_retried_invocations_end_before_the_callers_own_deadline() -> None:
    config = contract.REPO / "order-app" / "src" / "order_app" / "config.py"
    found = re.search(r"invoke_timeout_seconds\s*:\s*\w+\s*=\s*([0-9.]+)", config.read_text())
    if found is None:
        pytest.skip("order-app has no invoke_timeout_seconds setting")
    policies = merged_values("default")["resiliency"]["policies"]
    retry = policies["retries"]["invokeRetry"]
    attempts = retry["maxRetries"] + 1
    worst = attempts * seconds(policies["timeouts"]["invoke"]) + retry["maxRetries"] * seconds(
        retry["duration"]
    )
    assert worst < float(found.group(1))
