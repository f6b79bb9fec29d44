# A Kubernetes control plane without nodes, with Dapr's admission side: see k8s-control-plane/
# and charts/README.md. Included by the Makefile, which defines STAMP and BIN.
#   make k8s-control-plane  - build, pinned, into k8s-control-plane/.build/bin (once; ~15 min cold
#                             on 2 cores, nothing on a second run), then start it all on loopback
#                             and stop it again: the proof it comes up
#   make k8s-up             - the same, left running (KUBECONFIG printed; Ctrl-C stops it)
# The tests (tests/k8s/test_cluster_*.py, in `make test`) start their own.
KUBE_DIR := k8s-control-plane
KUBE_BUILT := $(KUBE_DIR)/.build/bin/.built

.PHONY: k8s-control-plane k8s-control-plane-bin k8s-up

$(KUBE_BUILT): $(KUBE_DIR)/go.mod $(KUBE_DIR)/go.sum $(KUBE_DIR)/build.sh $(KUBE_DIR)/cmd/etcd/main.go dapr-runtime/go.mod dapr-runtime/go.sum
	@command -v go >/dev/null || { echo "make k8s-control-plane: Go >= 1.26 is needed to build Kubernetes v1.34.2, helm v3.19.0 and Dapr 1.18.2's control plane" >&2; exit 1; }
	rm -rf $(KUBE_DIR)/.build/bin
	$(KUBE_DIR)/build.sh
	touch $@

k8s-control-plane-bin: $(KUBE_BUILT)

k8s-control-plane: $(STAMP) $(KUBE_BUILT)
	K8S_CONTROL_PLANE_CHECK=1 $(BIN)/python -m tests.k8s.cluster

k8s-up: $(STAMP) $(KUBE_BUILT)
	rm -rf .data/k8s-control-plane
	$(BIN)/python -m tests.k8s.cluster $(CURDIR)/.data/k8s-control-plane
