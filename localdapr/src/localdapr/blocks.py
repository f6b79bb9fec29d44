"""The building blocks every sidecar is assembled from, in start order."""

from .health import HealthBlock
from .invoke import InvokeBlock
from .metadata import MetadataBlock
from .pubsub import PubSubBlock
from .state import StateBlock
from .workflow import WorkflowBlock

# MetadataBlock stays last: its start marks the sidecar healthy, and its catch-all
# route (the `dapr-app-id` header form of invocation) must come after every other.
BLOCKS = [HealthBlock, StateBlock, PubSubBlock, InvokeBlock, WorkflowBlock, MetadataBlock]
