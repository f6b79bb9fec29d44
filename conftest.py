# The services' shared test fixtures (order ids, in-memory store and publisher, ...).
pytest_plugins = ["dapr_helpers.fixtures"]
