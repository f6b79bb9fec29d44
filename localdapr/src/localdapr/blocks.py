"""The building blocks every sidecar is assembled from, in start order."""

from .health import HealthBlock
from .invoke import InvokeBlock
from .pubsub import PubSubBlock
from .state import StateBlock
from .workflow import WorkflowBlock

BLOCKS = [HealthBlock, StateBlock, PubSubBlock, InvokeBlock, WorkflowBlock]
