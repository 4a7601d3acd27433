"""GUI models (see ARCHITECTURE.md)."""
