# The saga benchmark and the fault tests; see the README's "Benchmark" section.
# Included by the Makefile, which defines STAMP (the installed virtual environment) and BIN.
#   make bench        - concurrent clients against a local stack, then the audit; writes reports/bench/
#   make test-faults  - only the fault tests (kill -9, participant down, duplicates, poison); make test runs them too
#   make bench RUNTIME=dapr  - the same on real daprd with Postgres and Redis; writes reports/bench-dapr/
BENCH_CLIENTS ?= 32
BENCH_DURATION ?= 30
RUNTIME ?= localdapr
BENCH_OUT := reports/$(if $(filter dapr,$(RUNTIME)),bench-dapr,bench)

.PHONY: bench test-faults

bench: $(STAMP) $(if $(filter dapr,$(RUNTIME)),dapr-runtime infra-deps)
	$(BIN)/python -m bench.saga_bench --runtime $(RUNTIME) --clients $(BENCH_CLIENTS) --duration $(BENCH_DURATION) --out $(BENCH_OUT)

test-faults: $(STAMP)
	$(BIN)/pytest tests/faults -q
