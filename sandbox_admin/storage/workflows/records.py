"""Workflow executions and steps as Python values, with their durations computed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..fields import loads_json, parse_timestamp, utcnow

EXECUTION_COLUMNS = (
    "id", "workflow_name", "sandbox_id", "status", "input_data", "output_data", "error_message",
    "started_at", "completed_at", "execution_time_seconds", "step_count", "current_step", "metadata",
)
STEP_COLUMNS = (
    "id", "execution_id", "step_name", "step_order", "status", "input_data", "output_data",
    "error_message", "started_at", "completed_at", "execution_time_seconds", "retry_count",
)
#: The Go server's states (SCHEMA.md comments); others are shown as they are.
EXECUTION_STATES = ("pending", "running", "completed", "failed")
STEP_STATES = ("pending", "running", "completed", "failed", "skipped")
FINISHED = ("completed", "failed", "cancelled", "skipped")


def _duration(stored: Any, started: datetime | None, completed: datetime | None,
              status: str, now: datetime | None) -> float | None:
    """Seconds: the stored figure when it is one, else from the times; a running one so far."""
    if isinstance(stored, (int, float)) and stored > 0:
        return float(stored)
    if started is None:
        return None
    if completed is not None:
        return max(0.0, (completed - started).total_seconds())
    if status in ("running", "pending"):
        return max(0.0, ((now or utcnow()) - started).total_seconds())
    return float(stored) if isinstance(stored, (int, float)) else None


@dataclass(frozen=True)
class StepRecord:
    id: int
    execution_id: str
    step_name: str
    step_order: int
    status: str
    input_data: Any
    output_data: Any
    error_message: str
    started_at: datetime | None
    completed_at: datetime | None
    execution_time_seconds: float | None
    retry_count: int

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def duration(self, now: datetime | None = None) -> float | None:
        return _duration(self.execution_time_seconds, self.started_at, self.completed_at,
                         self.status, now)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in STEP_COLUMNS} | {"duration_seconds": self.duration()}


@dataclass(frozen=True)
class ExecutionRecord:
    id: str
    workflow_name: str
    sandbox_id: str | None
    status: str
    input_data: Any
    output_data: Any
    error_message: str
    started_at: datetime | None
    completed_at: datetime | None
    execution_time_seconds: float | None
    step_count: int
    current_step: int
    metadata: Any
    #: the sort key of the keyset (julianday of started_at), for the next page's cursor
    key: float = field(default=0.0, compare=False, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED or self.completed_at is not None

    def duration(self, now: datetime | None = None) -> float | None:
        return _duration(self.execution_time_seconds, self.started_at, self.completed_at,
                         self.status, now)

    def as_dict(self) -> dict[str, Any]:
        return ({name: getattr(self, name) for name in EXECUTION_COLUMNS}
                | {"duration_seconds": self.duration()})


@dataclass(frozen=True)
class Timeline:
    """An execution with its steps in order, for a step timeline."""

    execution: ExecutionRecord
    steps: list[StepRecord]

    @property
    def failed_step(self) -> StepRecord | None:
        return next((s for s in self.steps if s.failed), None)

    @property
    def retries(self) -> int:
        return sum(s.retry_count for s in self.steps)

    def span(self, now: datetime | None = None) -> tuple[datetime, datetime] | None:
        """First start and last end (now for what still runs) over the execution and its steps."""
        starts = [t for t in [self.execution.started_at, *(s.started_at for s in self.steps)] if t]
        if not starts:
            return None
        ends = [t for t in [self.execution.completed_at, *(s.completed_at for s in self.steps)] if t]
        running = not self.execution.finished or any(
            s.started_at and not s.completed_at for s in self.steps)
        end = max(ends + ([now or utcnow()] if running else []) + starts)
        return min(starts), end

    def as_dict(self) -> dict[str, Any]:
        return {"execution": self.execution.as_dict(), "steps": [s.as_dict() for s in self.steps]}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def execution_from_row(row: tuple[Any, ...], key: Any = 0.0) -> ExecutionRecord:
    v = dict(zip(EXECUTION_COLUMNS, row))
    return ExecutionRecord(
        id=v["id"], workflow_name=_text(v["workflow_name"]), sandbox_id=v["sandbox_id"] or None,
        status=_text(v["status"]), input_data=loads_json(v["input_data"]),
        output_data=loads_json(v["output_data"]), error_message=_text(v["error_message"]),
        started_at=parse_timestamp(v["started_at"]), completed_at=parse_timestamp(v["completed_at"]),
        execution_time_seconds=_number(v["execution_time_seconds"]),
        step_count=_int(v["step_count"]), current_step=_int(v["current_step"]),
        metadata=loads_json(v["metadata"]), key=float(key or 0.0),
    )


def step_from_row(row: tuple[Any, ...]) -> StepRecord:
    v = dict(zip(STEP_COLUMNS, row))
    return StepRecord(
        id=int(v["id"]), execution_id=v["execution_id"], step_name=_text(v["step_name"]),
        step_order=_int(v["step_order"]), status=_text(v["status"]),
        input_data=loads_json(v["input_data"]), output_data=loads_json(v["output_data"]),
        error_message=_text(v["error_message"]), started_at=parse_timestamp(v["started_at"]),
        completed_at=parse_timestamp(v["completed_at"]),
        execution_time_seconds=_number(v["execution_time_seconds"]),
        retry_count=_int(v["retry_count"]),
    )
