# The sagas of the running system (make run or make run-dapr), as `dapr workflow list/history` show them.
# Included by the Makefile, which defines STAMP (the installed virtual environment) and BIN.
#   make workflows                 - every saga of the order app: id, status, created, last updated
#   make workflow ID=order-7       - one saga's history, one line per event
# APP=<app id> looks at another app's sidecar; GRPC=host:port at a sidecar that run.json does not name.
WORKFLOWS_ARGS = $(if $(APP),--app '$(APP)') $(if $(GRPC),--grpc '$(GRPC)')

.PHONY: workflows workflow

workflows: $(STAMP)
	@$(BIN)/python -m dapr_runtime.workflows list $(WORKFLOWS_ARGS)

workflow: $(STAMP)
	@if [ -z '$(ID)' ]; then echo "usage: make workflow ID=<saga id>, e.g. ID=order-7 (make workflows lists them)" >&2; exit 2; fi
	@$(BIN)/python -m dapr_runtime.workflows history '$(ID)' $(WORKFLOWS_ARGS)
