"""The order service: public order API and the order saga (a Dapr Workflow)."""
