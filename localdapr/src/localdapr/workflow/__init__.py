"""Workflow building block (placeholder until implemented)."""

from ..sidecar import Block


class WorkflowBlock(Block):
    pass
