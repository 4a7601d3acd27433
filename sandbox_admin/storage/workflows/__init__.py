"""Workflow executions and their steps (the Go server's ``workflow_executions`` and
``workflow_steps``): filtered keyset listing, durations, step timelines, and writing."""

from .records import EXECUTION_STATES, STEP_STATES, ExecutionRecord, StepRecord, Timeline
from .store import WorkflowCursor, WorkflowFilter, WorkflowPage, WorkflowStore

__all__ = [
    "EXECUTION_STATES", "STEP_STATES", "ExecutionRecord", "StepRecord", "Timeline",
    "WorkflowCursor", "WorkflowFilter", "WorkflowPage", "WorkflowStore",
]
