"""State management building block (placeholder until implemented)."""

from ..sidecar import Block


class StateBlock(Block):
    pass
