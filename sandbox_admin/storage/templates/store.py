"""TemplateStore: the Go server's sandbox templates (``sandbox_templates``, migration 5).

Optimistic locking without a version column: the Go schema gives this table no
``version``, and we may not add one to a Go table (SCHEMA.md). Every change we write
sets ``updated_at`` to a new instant, strictly later than the one it replaces (one
microsecond later if the clock has not moved on), and an update or delete names the
``updated_at`` text it was based on (:attr:`TemplateRecord.stamp`):
``UPDATE ... WHERE id = ? AND updated_at IS ?``. A stale edit is refused with
:class:`errors.VersionConflict` carrying the current template. The Go server bumps
``updated_at`` on its own edits too, so its changes are detected as well. Counting a
use (``usage_count``) is not an edit: it leaves ``updated_at`` alone, so making
sandboxes from a template never makes someone's open edit of it stale.

At most one default: :meth:`TemplateStore.set_default` (and create/update with
``is_default=True``) clears every other default in the same IMMEDIATE transaction;
SQLite serialises writers, so concurrent processes leave exactly one default.

Values keep the Go server's shapes: JSON compact with sorted keys (``null`` for an
absent value, never SQL NULL), '' for text that is absent, booleans as 0/1.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Iterable

from peewee import SQL, fn

from .. import errors
from ..fields import dumps_json, format_timestamp, loads_json, parse_timestamp, utcnow

if TYPE_CHECKING:
    from ..sandboxes.records import SandboxRecord
    from ..store import Store

COLUMNS = (
    "id", "name", "description", "config", "base_image", "pre_installed_packages",
    "environment_vars", "resource_limits", "tags", "created_at", "updated_at", "created_by",
    "usage_count", "is_default",
)
JSON_COLUMNS = ("config", "pre_installed_packages", "environment_vars", "resource_limits", "tags")
TEXT_COLUMNS = ("name", "description", "base_image", "created_by")
#: What :meth:`TemplateStore.update` may change.
EDITABLE = ("name", "description", "config", "base_image", "pre_installed_packages",
            "environment_vars", "resource_limits", "tags", "created_by", "is_default")
MAX_PAGE = 1000


@dataclass(frozen=True)
class TemplateRecord:
    id: str
    name: str
    description: str
    config: Any
    base_image: str
    pre_installed_packages: Any
    environment_vars: Any
    resource_limits: Any
    tags: list[str]
    created_at: datetime | None
    updated_at: datetime | None
    created_by: str
    usage_count: int
    is_default: bool
    #: updated_at exactly as stored: what an update or delete must still find (see module doc)
    stamp: str | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in COLUMNS}


@dataclass(frozen=True)
class TemplateCursor:
    """Where the next page starts (name, id). Opaque to callers."""

    name: str
    id: str


@dataclass(frozen=True)
class TemplatePage:
    rows: list[TemplateRecord]
    next_cursor: TemplateCursor | None


def _tags(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str) and value:
        return [value]
    return []


def record_from_row(row: tuple[Any, ...]) -> TemplateRecord:
    v = dict(zip(COLUMNS, row))
    return TemplateRecord(
        id=v["id"], name=v["name"] or "", description=v["description"] or "",
        config=loads_json(v["config"]), base_image=v["base_image"] or "",
        pre_installed_packages=loads_json(v["pre_installed_packages"]),
        environment_vars=loads_json(v["environment_vars"]),
        resource_limits=loads_json(v["resource_limits"]), tags=_tags(loads_json(v["tags"])),
        created_at=parse_timestamp(v["created_at"]), updated_at=parse_timestamp(v["updated_at"]),
        created_by=v["created_by"] or "", usage_count=int(v["usage_count"] or 0),
        is_default=_flag(v["is_default"]),
        stamp=v["updated_at"] if v["updated_at"] is None else str(v["updated_at"]),
    )


def _json_text(name: str, value: Any) -> str:
    if name == "config" and value is None:
        return "{}"  # NOT NULL in the Go schema: an empty object
    if isinstance(value, str):  # JSON text (kept, compacted and sorted) or a plain string
        return dumps_json(loads_json(value))
    return dumps_json(value)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "t")
    return bool(value)


def _values(changes: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if name in JSON_COLUMNS:
            if name == "tags" and value is not None:
                value = sorted({str(t).strip() for t in value if str(t).strip()})
            out[name] = _json_text(name, value)
        elif name in TEXT_COLUMNS:
            if value is not None and not isinstance(value, str):
                raise errors.InvalidInput(f"A template's {name} is text, not {value!r}.")
            out[name] = value or ""
        elif name == "is_default":
            out[name] = 1 if value else 0
        else:
            raise errors.InvalidInput(f"A template has no changeable field {name!r}; "
                                      f"choose from {', '.join(EDITABLE)}.")
    for name in ("name", "base_image"):
        if name in out and not out[name].strip():
            raise errors.InvalidInput(f"A template needs a {name.replace('_', ' ')}.")
    return out


class TemplateStore:
    """Templates of one :class:`~sandbox_admin.storage.Store`; safe to share between threads."""

    def __init__(self, store: "Store") -> None:
        self.store = store
        self.db = store.db
        self.models = store.models

    # -- reading -------------------------------------------------------------------------
    def _select(self) -> Any:
        T = self.models.SandboxTemplate
        return T.select(*(getattr(T, name) for name in COLUMNS))

    def _fetch(self, id: str) -> TemplateRecord | None:
        T = self.models.SandboxTemplate
        row = self.db.execute(self._select().where(T.id == id)).fetchone()
        return record_from_row(row) if row else None

    @errors.translated.method
    def get(self, id: str) -> TemplateRecord:
        record = self._fetch(id)
        if record is None:
            raise errors.NotFound(f"There is no template {id!r} in {self.store.path.name}; "
                                  "it may have been deleted. Refresh the list.")
        return record

    @errors.translated.method
    def page(self, after: TemplateCursor | None = None, limit: int = 200) -> TemplatePage:
        """Templates by name (then id), keyset paged."""
        if not 1 <= limit <= MAX_PAGE:
            raise errors.InvalidInput(f"A page holds 1 to {MAX_PAGE} templates, not {limit!r}.")
        T = self.models.SandboxTemplate
        query = self._select()
        name = fn.COALESCE(T.name, SQL("''"))
        if after is not None:
            query = query.where((name > after.name) | ((name == after.name) & (T.id > after.id)))
        rows = [record_from_row(r) for r in
                self.db.execute(query.order_by(name, T.id).limit(limit + 1)).fetchall()]
        more = len(rows) > limit
        rows = rows[:limit]
        cursor = TemplateCursor(rows[-1].name, rows[-1].id) if more else None
        return TemplatePage(rows, cursor)

    def list(self) -> list[TemplateRecord]:
        """Every template by name (templates are few; see :meth:`page` for paging)."""
        out: list[TemplateRecord] = []
        cursor: TemplateCursor | None = None
        while True:
            page = self.page(cursor, MAX_PAGE)
            out += page.rows
            if page.next_cursor is None:
                return out
            cursor = page.next_cursor

    @errors.translated.method
    def default(self) -> TemplateRecord | None:
        T = self.models.SandboxTemplate
        row = self.db.execute(self._select().where(T.is_default == 1).order_by(T.id).limit(1)).fetchone()
        return record_from_row(row) if row else None

    # -- writing -------------------------------------------------------------------------
    def _next_stamp(self, old: datetime | None) -> datetime:
        now = utcnow()
        if old is not None and now <= old:
            now = old + timedelta(microseconds=1)
        return now

    def _clear_defaults(self, keep: str) -> None:
        T = self.models.SandboxTemplate
        others = [r[0] for r in self.db.execute(
            T.select(T.id, T.updated_at).where((T.is_default == 1) & (T.id != keep))).fetchall()]
        for other in others:
            old = self._fetch(other)
            stamp = self._next_stamp(old.updated_at if old else None)
            T.update(is_default=0, updated_at=stamp).where(T.id == other).execute()

    @errors.translated.method
    def create(self, name: str, base_image: str, *, id: str | None = None, config: Any = None,
               description: str = "", pre_installed_packages: Iterable[str] | None = None,
               environment_vars: dict[str, str] | None = None, resource_limits: Any = None,
               tags: Iterable[str] = (), created_by: str = "", is_default: bool = False,
               now: datetime | None = None) -> TemplateRecord:
        """A new template (``id`` defaults to a new UUID); ``is_default`` takes the default
        from any other template in the same transaction."""
        tid = id or str(uuid.uuid4())
        values = _values({
            "name": name, "base_image": base_image, "description": description,
            "config": config if config is not None else {},
            "pre_installed_packages": list(pre_installed_packages) if pre_installed_packages is not None else None,
            "environment_vars": environment_vars, "resource_limits": resource_limits,
            "tags": list(tags), "created_by": created_by, "is_default": is_default,
        })
        when = format_timestamp(now or utcnow())
        with self.store.transaction():
            if self._fetch(tid) is not None:
                raise errors.InvalidInput(f"A template with id {tid!r} already exists; choose another id.")
            if is_default:
                self._clear_defaults(tid)
            self.models.SandboxTemplate.insert(id=tid, created_at=when, updated_at=when, usage_count=0,
                                               **values).execute()
            return self.get(tid)

    def _conflict(self, id: str, what: str) -> errors.StorageError:
        current = self._fetch(id)
        if current is None:
            return errors.NotFound(f"Template {id!r} was deleted elsewhere; nothing was {what}.")
        return errors.VersionConflict(
            f"Template {current.name!r} was changed elsewhere since you loaded it; nothing was "
            f"{what}. Reload it and try again.", current=current)

    @errors.translated.method
    def update(self, id: str, expected_stamp: str | None, **changes: Any) -> TemplateRecord:
        """Change the given fields if the template still has ``updated_at == expected_stamp``
        (the :attr:`TemplateRecord.stamp` it was read with); see the module docstring."""
        values = _values(changes)
        if not values:
            return self.get(id)
        T = self.models.SandboxTemplate
        with self.store.transaction():
            old = self._fetch(id)
            if old is None or old.stamp != expected_stamp:
                raise self._conflict(id, "changed")
            if values.get("is_default"):
                self._clear_defaults(id)
            stamp = format_timestamp(self._next_stamp(old.updated_at))
            n = T.update(updated_at=stamp, **values).where(
                (T.id == id) & (SQL("updated_at IS ?", [expected_stamp]))).execute()
            if n != 1:
                raise self._conflict(id, "changed")
            return self.get(id)

    @errors.translated.method
    def delete(self, id: str, expected_stamp: str | None = None) -> None:
        """Delete a template (when ``expected_stamp`` is given, only if unchanged since).
        Sandboxes made from it keep their own copy of its values."""
        T = self.models.SandboxTemplate
        with self.store.transaction():
            old = self._fetch(id)
            if old is None:
                raise errors.NotFound(f"There is no template {id!r}; it may have been deleted already.")
            if expected_stamp is not None and old.stamp != expected_stamp:
                raise self._conflict(id, "deleted")
            T.delete().where(T.id == id).execute()

    @errors.translated.method
    def set_default(self, id: str | None) -> TemplateRecord | None:
        """Make ``id`` the one default template (``None``: no default at all)."""
        T = self.models.SandboxTemplate
        with self.store.transaction():
            if id is None:
                self._clear_defaults("")
                return None
            old = self._fetch(id)
            if old is None:
                raise errors.NotFound(f"There is no template {id!r}; it may have been deleted.")
            self._clear_defaults(id)
            if not old.is_default:
                T.update(is_default=1, updated_at=format_timestamp(self._next_stamp(old.updated_at))).where(
                    T.id == id).execute()
            return self.get(id)

    @errors.translated.method
    def create_sandbox(self, template_id: str, *, sandbox_id: str | None = None,
                       user_id: str = "") -> "SandboxRecord":
        """A new sandbox built from a template, in one transaction with its ``create`` audit
        entry (naming the template) and the template's ``usage_count`` bumped.

        The sandbox starts ``creating`` (the Go server's first state; its container comes
        later): ``environment`` is the template's environment_vars, ``config`` the
        template's config with ``image`` (base_image), ``resource_limits``,
        ``pre_installed_packages`` and ``template_id`` added, ``working_dir`` the config's
        ``workspace_dir`` (or ``working_dir``), ``metadata`` names the template.
        """
        T = self.models.SandboxTemplate
        sid = sandbox_id or str(uuid.uuid4())
        with self.store.transaction():
            t = self.get(template_id)
            config = dict(t.config) if isinstance(t.config, dict) else {"template_config": t.config}
            config.setdefault("image", t.base_image)
            if t.resource_limits is not None:
                config.setdefault("resource_limits", t.resource_limits)
            if t.pre_installed_packages is not None:
                config.setdefault("pre_installed_packages", t.pre_installed_packages)
            config["template_id"] = t.id
            workdir = config.get("workspace_dir") or config.get("working_dir") or ""
            env = t.environment_vars if isinstance(t.environment_vars, dict) else {}
            record = self.store.sandboxes.create(
                sid, "creating", working_dir=str(workdir), environment=env, config=config,
                metadata={"template_id": t.id, "template_name": t.name, "tags": t.tags},
                user_id=user_id, audit_metadata={"template_id": t.id, "template_name": t.name},
            )
            T.update(usage_count=fn.COALESCE(T.usage_count, 0) + 1).where(T.id == t.id).execute()
        return record
