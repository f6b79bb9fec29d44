"""A real browser for the pages the system serves: Debian's chromium, driven by Playwright.

Playwright's own browser download needs the internet, so it drives the system's
chromium through `executable_path` (`make browser-deps` installs it). Every request
that leaves loopback is refused and recorded, so a page that needs a CDN fails
its test instead of passing on a connected machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags, chromium reaches for Google's hosts at start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = {"localhost", "127.0.0.1", "::1"}
REPORTS = Path(__file__).resolve().parents[2] / "reports"


@dataclass
class Tab:
    """One page, and every request it tried to make off this machine (refused)."""

    page: Page
    offsite: list[str] = field(default_factory=list)

    def screenshot(self, name: str) -> Path:
        """A full-page PNG under reports/."""
        REPORTS.mkdir(exist_ok=True)
        path = REPORTS / name
        self.page.screenshot(path=str(path), full_page=True)
        return path


# One per module, not per session: while Playwright's sync API is open its event loop
# is the thread's, and a later test's asyncio.run() ("cannot be called from a running
# event loop") or the SDK's own loop would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: run `make browser-deps` (Debian's chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = Tab(context.new_page())

    def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            tab.offsite.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    yield tab
    context.close()
