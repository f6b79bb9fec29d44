# The saga benchmark and the fault tests; see the README's "Benchmark" section.
# Included by the Makefile, which defines STAMP (the installed virtual environment) and BIN.
#   make bench        - concurrent clients against a local stack, then the audit; writes reports/bench/
#   make bench-engine - bare workflows on real daprd, in turns: the saga's first shape (an activity, then
#                       a raised reply awaited with a timeout, three times), three activities alone, and
#                       the floor (a successful saga's Dapr calls and nothing else); CPU per workflow
#                       for every process (bench/engine_cost.py)
#   make test-faults  - only the fault tests (kill -9, participant down, duplicates, poison); make test runs them too
#   make bench RUNTIME=dapr  - the same on real daprd with Postgres and Redis; writes reports/bench-dapr/
#   make bench-scale  - make bench's load twice, each on a fresh stack: first on empty stores, then
#                       after preloading BENCH_HISTORY prior orders (50000) through the services' own
#                       code over the load's accounts and products; BENCH_SCALE_DURATION (60) seconds
#                       each. Compares CPU per saga and throughput, reports the largest state value
#                       the load wrote (max_record_bytes); writes reports/bench-scale[-dapr]/scale.json,
#                       its last line is one JSON object. RUNTIME=dapr as for make bench.
BENCH_CLIENTS ?= 32
BENCH_DURATION ?= 30
RUNTIME ?= localdapr
BENCH_OUT := reports/$(if $(filter dapr,$(RUNTIME)),bench-dapr,bench)
BENCH_HISTORY ?= 50000
BENCH_SCALE_DURATION ?= 60
BENCH_SCALE_OUT := reports/$(if $(filter dapr,$(RUNTIME)),bench-scale-dapr,bench-scale)

.PHONY: bench bench-scale bench-engine test-faults

bench: $(STAMP) $(if $(filter dapr,$(RUNTIME)),dapr-runtime infra-deps)
	$(BIN)/python -m bench.saga_bench --runtime $(RUNTIME) --clients $(BENCH_CLIENTS) --duration $(BENCH_DURATION) --out $(BENCH_OUT)

bench-scale: $(STAMP) $(if $(filter dapr,$(RUNTIME)),dapr-runtime infra-deps)
	$(BIN)/python -m bench.scale --runtime $(RUNTIME) --clients $(BENCH_CLIENTS) --history $(BENCH_HISTORY) --duration $(BENCH_SCALE_DURATION) --out $(BENCH_SCALE_OUT)

bench-engine: $(STAMP) dapr-runtime infra-deps
	$(BIN)/python -m bench.engine_cost --workflows 400 --clients 16 --rounds 3

test-faults: $(STAMP)
	$(BIN)/pytest tests/faults -q
