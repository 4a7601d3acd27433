"""GUI widgets (see ARCHITECTURE.md)."""
