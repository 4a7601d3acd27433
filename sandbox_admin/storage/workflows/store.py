"""WorkflowStore: the Go server's workflow executions and their steps (migration 6).

Reading: :meth:`WorkflowStore.page` lists executions newest first by instant
(``julianday(started_at)``, whatever offset a row was written with), keyset paged on
(instant, id), filtered by status, sandbox, workflow name and a start-time range;
:meth:`WorkflowStore.timeline` gives one execution with its steps in order.

Writing (for completeness, tests and the demo): :meth:`create` (pending, with its
steps), :meth:`start_step`, :meth:`finish_step`, :meth:`retry_step`, :meth:`advance`
and :meth:`finish`; each one IMMEDIATE transaction. A retried step stays one row: its
``retry_count`` goes up, its first start is kept (its bar spans every attempt) and the
last failure's error stays in ``error_message`` even when a later attempt succeeds.

Values keep the Go shapes: JSON compact with sorted keys and ``null`` (never SQL NULL)
for an absent value, '' for no error, ``execution_time_seconds`` 0 until it is known
(the Go reader scans it into a float64). Timestamps a step has not reached stay NULL,
as the Go DDL has them (no default); a missing sandbox is NULL (``ON DELETE SET NULL``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Iterable

from peewee import SQL, fn

from .. import errors
from ..fields import dumps_json, format_timestamp, utcnow
from .records import (
    EXECUTION_COLUMNS,
    STEP_COLUMNS,
    ExecutionRecord,
    StepRecord,
    Timeline,
    execution_from_row,
    step_from_row,
)

if TYPE_CHECKING:
    from ..store import Store

MAX_PAGE = 2000


@dataclass(frozen=True)
class WorkflowFilter:
    statuses: frozenset[str] = frozenset()
    sandbox_id: str | None = None
    workflow_name: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None


@dataclass(frozen=True)
class WorkflowCursor:
    """Where the next page starts (instant, id); opaque to callers."""

    key: float
    id: str


@dataclass(frozen=True)
class WorkflowPage:
    rows: list[ExecutionRecord]
    next_cursor: WorkflowCursor | None


class WorkflowStore:
    """Workflow executions of one :class:`~sandbox_admin.storage.Store`; thread-safe."""

    def __init__(self, store: "Store") -> None:
        self.store = store
        self.db = store.db
        self.models = store.models

    # -- reading -------------------------------------------------------------------------
    def _key(self) -> Any:
        return fn.COALESCE(fn.julianday(self.models.WorkflowExecution.started_at), SQL("-1"))

    def _terms(self, flt: WorkflowFilter) -> list[Any]:
        W = self.models.WorkflowExecution
        terms: list[Any] = []
        if flt.statuses:
            terms.append(W.status.in_(sorted(flt.statuses)))
        if flt.sandbox_id:
            terms.append(W._meta.columns["sandbox_id"] == flt.sandbox_id)
        if flt.workflow_name:
            terms.append(W.workflow_name == flt.workflow_name)
        if flt.started_from is not None:
            terms.append(self._key() >= fn.julianday(format_timestamp(flt.started_from)))
        if flt.started_to is not None:
            terms.append(self._key() < fn.julianday(format_timestamp(flt.started_to)))
        return terms

    @staticmethod
    def _where(query: Any, terms: list[Any]) -> Any:
        for term in terms:
            query = query.where(term)
        return query

    def _select(self) -> Any:
        W = self.models.WorkflowExecution
        return W.select(*(W._meta.columns[c] for c in EXECUTION_COLUMNS), self._key())

    @errors.translated.method
    def page(self, flt: WorkflowFilter = WorkflowFilter(), *, after: WorkflowCursor | None = None,
             limit: int = 200) -> WorkflowPage:
        """Executions newest first (then by id), at most ``limit``; see the module docstring."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise errors.InvalidInput(f"A page holds 1 to {MAX_PAGE:,} executions, not {limit!r}.")
        W = self.models.WorkflowExecution
        key = self._key()
        query = self._where(self._select(), self._terms(flt))
        if after is not None:
            query = query.where((key < after.key) | ((key == after.key) & (W.id < after.id)))
        rows = self.db.execute(query.order_by(key.desc(), W.id.desc()).limit(limit + 1)).fetchall()
        records = [execution_from_row(r[:-1], r[-1]) for r in rows[:limit]]
        cursor = (WorkflowCursor(records[-1].key, records[-1].id) if len(rows) > limit else None)
        return WorkflowPage(records, cursor)

    @errors.translated.method
    def count(self, flt: WorkflowFilter = WorkflowFilter()) -> int:
        W = self.models.WorkflowExecution
        return int(self._where(W.select(fn.COUNT(SQL("*"))), self._terms(flt)).scalar() or 0)

    @errors.translated.method
    def status_counts(self, flt: WorkflowFilter = WorkflowFilter()) -> dict[str, int]:
        W = self.models.WorkflowExecution
        query = self._where(W.select(W.status, fn.COUNT(SQL("*"))),
                            self._terms(WorkflowFilter(**{**flt.__dict__, "statuses": frozenset()})))
        return {s or "": int(n) for s, n in self.db.execute(query.group_by(W.status)).fetchall()}

    @errors.translated.method
    def workflow_names(self) -> list[str]:
        W = self.models.WorkflowExecution
        query = W.select(W.workflow_name).distinct().order_by(W.workflow_name)
        return [r[0] for r in self.db.execute(query).fetchall() if r[0]]

    @cached_property
    def _fetch_sql(self) -> str:
        """The SQL of one execution by id, generated once (building it is the cost of a
        small write; the demo writes hundreds)."""
        sql, _ = self._select().where(self.models.WorkflowExecution.id == "?").sql()
        return sql

    @cached_property
    def _step_sql(self) -> str:
        WS = self.models.WorkflowStep
        sql, _ = (WS.select(*(WS._meta.columns[c] for c in STEP_COLUMNS))
                  .where((WS._meta.columns["execution_id"] == "?") & (WS.step_order == 0))
                  .order_by(WS.id).limit(1)).sql()
        return sql

    def _fetch(self, id: str) -> ExecutionRecord | None:
        row = self.db.execute_sql(self._fetch_sql, (id,)).fetchone()
        return execution_from_row(row[:-1], row[-1]) if row else None

    @errors.translated.method
    def get(self, id: str) -> ExecutionRecord:
        record = self._fetch(id)
        if record is None:
            raise errors.NotFound(f"There is no workflow execution {id!r} in {self.store.path.name}.")
        return record

    @errors.translated.method
    def steps(self, execution_id: str) -> list[StepRecord]:
        WS = self.models.WorkflowStep
        query = (WS.select(*(WS._meta.columns[c] for c in STEP_COLUMNS))
                 .where(WS._meta.columns["execution_id"] == execution_id)
                 .order_by(WS.step_order, WS.id))
        return [step_from_row(r) for r in self.db.execute(query).fetchall()]

    def timeline(self, execution_id: str) -> Timeline:
        """The execution and its steps in order (status, start/end, retries, error), read
        in one transaction: one snapshot while the server writes."""
        with self.store.connection(), self.db.atomic():
            return Timeline(self.get(execution_id), self.steps(execution_id))

    # -- writing -------------------------------------------------------------------------
    @errors.translated.method
    def create(self, workflow_name: str, steps: Iterable[str], *, sandbox_id: str | None = None,
               input_data: Any = None, metadata: Any = None, id: str | None = None,
               at: datetime | None = None) -> ExecutionRecord:
        """A pending execution with its steps, all pending."""
        names = [str(s) for s in steps]
        if not workflow_name.strip():
            raise errors.InvalidInput("A workflow execution needs a workflow name.")
        if not names or any(not n.strip() for n in names):
            raise errors.InvalidInput("A workflow execution needs at least one named step.")
        eid = id or str(uuid.uuid4())
        when = format_timestamp(at or utcnow())
        with self.store.transaction():
            if sandbox_id is not None and self.models.Sandbox.get_or_none(
                    self.models.Sandbox.id == sandbox_id) is None:
                raise errors.NotFound(f"There is no sandbox {sandbox_id!r} to run the workflow in.")
            self.models.WorkflowExecution.insert(
                id=eid, workflow_name=workflow_name, sandbox=sandbox_id, status="pending",
                input_data=dumps_json(input_data), output_data="null", error_message="",
                started_at=when, completed_at=None, execution_time_seconds=0,
                step_count=len(names), current_step=0, metadata=dumps_json(metadata),
            ).execute()
            self.models.WorkflowStep.insert_many([
                {"execution": eid, "step_name": name, "step_order": order, "status": "pending",
                 "input_data": "null", "output_data": "null", "error_message": "",
                 "execution_time_seconds": 0, "retry_count": 0}
                for order, name in enumerate(names)
            ]).execute()
            return self.get(eid)

    def _step(self, execution_id: str, order: int) -> StepRecord:
        row = self.db.execute_sql(self._step_sql, (execution_id, order, 1)).fetchone()
        if row is not None:
            return step_from_row(row)
        raise errors.NotFound(f"Workflow execution {execution_id!r} has no step {order}.")

    def _running(self, execution: ExecutionRecord) -> None:
        if execution.finished:
            raise errors.InvalidInput(
                f"Workflow execution {execution.id} has already {execution.status}; it cannot change.")

    @errors.translated.method
    def start_step(self, execution_id: str, order: int, *, input_data: Any = None,
                   at: datetime | None = None) -> StepRecord:
        W, WS = self.models.WorkflowExecution, self.models.WorkflowStep
        with self.store.transaction():
            self._running(self.get(execution_id))
            step = self._step(execution_id, order)
            if step.status != "pending":
                raise errors.InvalidInput(f"Step {step.step_name!r} is {step.status}, not pending.")
            values: dict[str, Any] = {"status": "running", "started_at": format_timestamp(at or utcnow())}
            if input_data is not None:
                values["input_data"] = dumps_json(input_data)
            WS.update(**values).where(WS.id == step.id).execute()
            W.update(status="running", current_step=order).where(W.id == execution_id).execute()
            return self._step(execution_id, order)

    @errors.translated.method
    def finish_step(self, execution_id: str, order: int, *, ok: bool = True, output_data: Any = None,
                    error: str = "", at: datetime | None = None) -> StepRecord:
        """A running step completed (``ok``) or failed with ``error``; the execution goes on
        (retry the step, :meth:`advance` or :meth:`finish` it)."""
        WS = self.models.WorkflowStep
        when = at or utcnow()
        with self.store.transaction():
            self._running(self.get(execution_id))
            step = self._step(execution_id, order)
            if step.status != "running":
                raise errors.InvalidInput(f"Step {step.step_name!r} is {step.status}, not running.")
            if not ok and not error.strip():
                error = f"{step.step_name} failed"
            seconds = (when - step.started_at).total_seconds() if step.started_at else 0.0
            values: dict[str, Any] = {
                "status": "completed" if ok else "failed", "completed_at": format_timestamp(when),
                "execution_time_seconds": round(max(0.0, seconds), 6),
                "output_data": dumps_json(output_data),
            }
            if not ok:
                values["error_message"] = error
            WS.update(**values).where(WS.id == step.id).execute()
            return self._step(execution_id, order)

    @errors.translated.method
    def retry_step(self, execution_id: str, order: int, *, at: datetime | None = None) -> StepRecord:
        """Run a failed step again: running, ``retry_count + 1``, its first start kept."""
        WS = self.models.WorkflowStep
        with self.store.transaction():
            self._running(self.get(execution_id))
            step = self._step(execution_id, order)
            if step.status != "failed":
                raise errors.InvalidInput(f"Only a failed step is retried; {step.step_name!r} is {step.status}.")
            WS.update(status="running", completed_at=None, retry_count=WS.retry_count + 1,
                      execution_time_seconds=0).where(WS.id == step.id).execute()
            self.models.WorkflowExecution.update(current_step=order).where(
                self.models.WorkflowExecution.id == execution_id).execute()
            return self._step(execution_id, order)

    @errors.translated.method
    def advance(self, execution_id: str, *, ok: bool = True, output_data: Any = None,
                error: str = "", at: datetime | None = None) -> ExecutionRecord:
        """Finish the running step (or start the first) and start the next one; after the
        last step, or a failure, finish the execution."""
        when = at or utcnow()
        with self.store.transaction():
            steps = self.steps(execution_id)
            running = next((s for s in steps if s.status == "running"), None)
            if running is not None:
                self.finish_step(execution_id, running.step_order, ok=ok, output_data=output_data,
                                 error=error, at=when)
                if not ok:
                    return self.finish(execution_id, "failed", at=when)
            following = next((s for s in steps if s.status == "pending"), None)
            if following is None:
                return self.finish(execution_id, "completed", output_data=output_data, at=when)
            self.start_step(execution_id, following.step_order, at=when)
            return self.get(execution_id)

    @errors.translated.method
    def finish(self, execution_id: str, status: str = "completed", *, output_data: Any = None,
               error: str = "", at: datetime | None = None) -> ExecutionRecord:
        """End the execution: its time, its status; a failure names the failed step, and
        steps that never ran are ``skipped``."""
        if status not in ("completed", "failed", "cancelled"):
            raise errors.InvalidInput(f"An execution finishes completed, failed or cancelled, not {status!r}.")
        W, WS = self.models.WorkflowExecution, self.models.WorkflowStep
        when = at or utcnow()
        with self.store.transaction():
            execution = self.get(execution_id)
            self._running(execution)
            steps = self.steps(execution_id)
            failed = next((s for s in steps if s.status == "failed"), None)
            if status != "completed" and not error.strip():
                error = (f"step {failed.step_name} failed: {failed.error_message}" if failed
                         else f"workflow {status}")
            if status != "completed":
                WS.update(status="skipped").where(
                    (WS.execution == execution_id) & (WS.status == "pending")).execute()
                if status == "cancelled":
                    WS.update(status="cancelled", completed_at=format_timestamp(when)).where(
                        (WS.execution == execution_id) & (WS.status == "running")).execute()
            seconds = (when - execution.started_at).total_seconds() if execution.started_at else 0.0
            W.update(status=status, completed_at=format_timestamp(when),
                     execution_time_seconds=round(max(0.0, seconds), 6),
                     output_data=dumps_json(output_data), error_message=error,
                     current_step=failed.step_order if failed else execution.current_step,
                     ).where(W.id == execution_id).execute()
            return self.get(execution_id)
