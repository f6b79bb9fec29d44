"""The app the contract suite runs behind its sidecars.

One FastAPI process serves both app ids (`contract` and `contract-peer`) on two
ports, so tests can observe what a sidecar delivers. Building-block tests add
their routes in `app_*.py` modules, registered here before the sidecars start
(daprd reads `/dapr/subscribe` once, when the app becomes ready).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from dapr.ext.fastapi import DaprApp
from fastapi import FastAPI


class Recorder:
    """What the app received, per key, for tests to wait on."""

    def __init__(self) -> None:
        self._items: dict[str, list[Any]] = defaultdict(list)
        self._cond = threading.Condition()

    def add(self, key: str, item: Any) -> None:
        with self._cond:
            self._items[key].append(item)
            self._cond.notify_all()

    def get(self, key: str) -> list[Any]:
        with self._cond:
            return list(self._items[key])

    def wait_for(self, key: str, count: int = 1, timeout: float = 10.0) -> list[Any]:
        with self._cond:
            self._cond.wait_for(lambda: len(self._items[key]) >= count, timeout)
            return list(self._items[key])


recorder = Recorder()


def create_apps() -> tuple[FastAPI, FastAPI]:
    """The `contract` app and the `contract-peer` app."""
    main, peer = FastAPI(), FastAPI()
    dapr_main = DaprApp(main)
    for register in _registrations():
        register(main, peer, dapr_main, recorder)
    return main, peer


def _registrations() -> list[Any]:
    # Each app_*.py module exposes register(main, peer, dapr_app, recorder).
    import importlib
    import pkgutil
    from pathlib import Path

    here = Path(__file__).parent
    found = []
    for info in pkgutil.iter_modules([str(here)]):
        if info.name.startswith("app_"):
            spec = importlib.util.spec_from_file_location(info.name, here / f"{info.name}.py")
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            found.append(module.register)
    return found
