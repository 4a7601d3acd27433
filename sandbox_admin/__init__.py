"""sandbox-admin: look after SandboxRunner databases (desktop app, CLI, storage core)."""

__version__ = "0.1.0"
