"""Pub/sub building block (placeholder until implemented)."""

from ..sidecar import Block


class PubSubBlock(Block):
    pass
