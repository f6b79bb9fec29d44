# A real browser for the console's tests (tests/browser/): Debian's chromium, driven by
# Playwright through its executablePath (Playwright's own browser download needs the internet).
#   make browser-deps - install chromium from Debian's packages when it is missing
CHROMIUM ?= /usr/bin/chromium

.PHONY: browser-deps

browser-deps:
	@CHROMIUM=$(CHROMIUM) scripts/browser-deps.sh
