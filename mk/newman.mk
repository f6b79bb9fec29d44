# Newman runs the Postman collection (postman/) against a local stack; see postman/README.md.
# Included by the Makefile, which defines STAMP (the installed virtual environment).
#   make newman       - the collection alone, against a stack started and stopped for it
#   make newman-deps  - npm ci in postman/
NEWMAN := postman/node_modules/.bin/newman
NPM := $(shell command -v npm 2>/dev/null)

.PHONY: newman newman-deps

$(NEWMAN): postman/package.json postman/package-lock.json
	cd postman && npm ci --no-audit --no-fund
	touch $@

# Newman is part of `make test`: without npm it stops with a clear message, never skips.
newman-deps:
ifeq ($(NPM),)
	$(error npm (Node.js 18+) is required for the Postman tests: install Node.js, then run make again)
endif
newman-deps: $(NEWMAN)

newman: $(STAMP) newman-deps
	scripts/newman-local.sh
