# The Helm chart (charts/order-saga), checked offline: Helm's own library from the
# helm-python-sdk wheel, no helm binary, cluster or network. Included by the Makefile,
# which defines STAMP and BIN.
#   make helm-lint       - helm lint --strict, default values and every ci/*-values.yaml
#   make helm-template   - render the default install into build/order-saga.yaml
#   make helm-validate   - render and validate every object (Kubernetes schemas, Dapr CRDs)
#   make k8s-test        - all of the above and the consistency tests (pytest tests/k8s)
CHART := charts/order-saga
CHART_VALUES := $(wildcard $(CHART)/ci/*-values.yaml)
HELMTOOL := $(BIN)/python -m tests.k8s.helmtool

.PHONY: helm-lint helm-template helm-validate k8s-test

helm-lint: $(STAMP)
	$(HELMTOOL) lint --chart $(CHART)
	$(foreach f,$(CHART_VALUES),$(HELMTOOL) lint --chart $(CHART) -f $(f) &&) true

helm-template: $(STAMP)
	mkdir -p build
	$(HELMTOOL) template --chart $(CHART) > build/order-saga.yaml
	@echo "rendered into build/order-saga.yaml"

helm-validate: $(STAMP)
	$(HELMTOOL) validate --chart $(CHART)
	$(foreach f,$(CHART_VALUES),$(HELMTOOL) validate --chart $(CHART) -f $(f) &&) true

k8s-test: $(STAMP)
	$(BIN)/pytest tests/k8s -q
