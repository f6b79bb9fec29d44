"""The e2e `Stack` and the chart renderer, loaded by file path.

Two packages of this repository are named `tests` (the root one and localdapr's);
in one pytest run whichever is imported first owns the name, so `tests.k8s` may
not resolve from here. By path, these plain modules always load.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

TESTS = Path(__file__).resolve().parents[1]


def _load(relpath: str) -> ModuleType:
    name = "hostile_sibling_" + relpath.replace("/", "_").removesuffix(".py")
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TESTS / relpath)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


stack = _load("e2e/stack.py")
helmtool = _load("k8s/helmtool.py")
Stack = stack.Stack
STACK_ENV = stack.STACK_ENV
