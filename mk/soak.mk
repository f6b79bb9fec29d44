# The soak: steady load while a fault loop kill -9s random processes; see docs/soak.md.
# Included by the Makefile, which defines STAMP (the installed virtual environment) and BIN.
#   make soak                 - SOAK_DURATION (180) seconds on localdapr, then the audit; writes reports/soak/
#   make soak RUNTIME=dapr    - the same on real daprd with Postgres and Redis; writes reports/soak-dapr/
#   make soak SOAK_SEED=N     - replay a run's faults and order mix (the seed is printed first)
# The last line of output is one JSON object; the exit status is 1 unless the audit is clean
# and no order is stuck. RUNTIME comes from mk/bench.mk (default localdapr).
SOAK_DURATION ?= 180
SOAK_SEED ?=
SOAK_OUT := reports/$(if $(filter dapr,$(RUNTIME)),soak-dapr,soak)

.PHONY: soak

soak: $(STAMP) $(if $(filter dapr,$(RUNTIME)),dapr-runtime infra-deps)
	$(BIN)/python -m bench.soak --runtime $(RUNTIME) --duration $(SOAK_DURATION) $(if $(SOAK_SEED),--seed $(SOAK_SEED)) --out $(SOAK_OUT)
