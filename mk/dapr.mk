# The real Dapr runtime (daprd, placement, scheduler 1.18.2); see dapr-runtime/ and the README.
# Included by the Makefile, which defines STAMP and BIN.
#   make dapr-runtime  - use an installed Dapr 1.18 ($DAPR_RUNTIME_PATH/.dapr or ~/.dapr), else build
#                        1.18.2 from Dapr's Go modules into dapr-runtime/.dapr (a few minutes, once)
#   make run-dapr      - the whole system on it, with Postgres and Redis: gateway http://localhost:8080
DAPR_BUILT := dapr-runtime/.dapr/bin/daprd

.PHONY: dapr-runtime run-dapr infra-deps

$(DAPR_BUILT): dapr-runtime/go.mod dapr-runtime/go.sum dapr-runtime/components.go.txt dapr-runtime/build.sh
	@command -v go >/dev/null || { echo "make dapr-runtime: neither an installed daprd 1.18 nor Go >= 1.26 was found: install Go 1.26+ (to build daprd 1.18.2 here) or Dapr 1.18 ('dapr init --slim')" >&2; exit 1; }
	dapr-runtime/build.sh
	touch $@

dapr-runtime: $(STAMP)
	@if $(BIN)/dapr-runtime where --installed-only 2>/dev/null; then :; else $(MAKE) --no-print-directory $(DAPR_BUILT); fi

# Postgres and Redis from Debian's packages, installed when missing (as root), else a clear error.
infra-deps:
	@scripts/infra-deps.sh

run-dapr: $(STAMP) dapr-runtime infra-deps web-assets
	@echo "API docs, once ready: $(foreach p,orders billing stock delivery,http://localhost:8080/$(p)/docs )"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dapr-runtime run -f dapr.yaml
