"""Sandbox templates (the Go server's ``sandbox_templates``): records, optimistic edits
by ``updated_at``, one default, sandboxes made from a template."""

from .store import EDITABLE, TemplateCursor, TemplatePage, TemplateRecord, TemplateStore

__all__ = ["EDITABLE", "TemplateCursor", "TemplatePage", "TemplateRecord", "TemplateStore"]
