"""Service invocation building block (placeholder until implemented)."""

from .sidecar import Block


class InvokeBlock(Block):
    pass
