"""The demo database: deterministic content written through the storage API."""

from .generator import content_digest, create_demo, default_now, populate

__all__ = ["content_digest", "create_demo", "default_now", "populate"]
