# Newman runs the Postman collection (postman/) against a local stack; see postman/README.md.
# Included by the Makefile, which defines STAMP (the installed virtual environment).
#   make newman       - the collection alone, against a stack started and stopped for it
#   make newman-deps  - npm ci in postman/ (a no-op without npm: the pytest wrapper then skips)
NEWMAN := postman/node_modules/.bin/newman
NPM := $(shell command -v npm 2>/dev/null)

.PHONY: newman newman-deps

$(NEWMAN): postman/package.json postman/package-lock.json
	cd postman && npm ci --no-audit --no-fund
	touch $@

newman-deps: $(if $(NPM),$(NEWMAN))

newman: $(STAMP) newman-deps
	scripts/newman-local.sh
