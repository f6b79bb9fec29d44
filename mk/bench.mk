# The saga benchmark and the fault tests; see the README's "Benchmark" section.
# Included by the Makefile, which defines STAMP (the installed virtual environment) and BIN.
#   make bench        - concurrent clients against a local stack, then the audit; writes reports/bench/
#   make test-faults  - only the fault tests (kill -9, participant down, duplicates, poison); make test runs them too
BENCH_CLIENTS ?= 32
BENCH_DURATION ?= 30

.PHONY: bench test-faults

bench: $(STAMP)
	$(BIN)/python -m bench.saga_bench --clients $(BENCH_CLIENTS) --duration $(BENCH_DURATION) --out reports/bench

test-faults: $(STAMP)
	$(BIN)/pytest tests/faults -q
