# Front-end assets the apps serve themselves, from the npm packages web/ pins (package-lock.json):
# nothing is loaded from a CDN, so the pages work offline. Included by the Makefile.
#   make web-assets - npm ci in web/, then Swagger UI's files (the API docs at /<prefix>/docs) into
#                     dapr_helpers' package, where dapr_helpers.docs serves them; the Dockerfile's
#                     build does the same for the image
SWAGGER_UI_DIST := web/node_modules/swagger-ui-dist
SWAGGER_UI_DIR := dapr-helpers/src/dapr_helpers/swagger_ui
# Only what the page loads (dapr_helpers.docs.ASSETS lists the same files).
SWAGGER_UI := $(addprefix $(SWAGGER_UI_DIR)/,swagger-ui-bundle.js swagger-ui.css favicon-32x32.png)
WEB_STAMP := web/node_modules/.installed

.PHONY: web-assets

# --ignore-scripts: swagger-ui-dist's one dependency (@scarf/scarf) would report the install online.
$(WEB_STAMP): web/package.json web/package-lock.json
	@command -v npm >/dev/null || { echo "make web-assets: npm (Node.js 18+) is required to install web/'s pinned packages: install Node.js, then run make again" >&2; exit 1; }
	cd web && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

$(SWAGGER_UI): $(SWAGGER_UI_DIR)/%: $(WEB_STAMP)
	@mkdir -p $(@D)
	cp $(SWAGGER_UI_DIST)/$* $@

web-assets: $(SWAGGER_UI)
