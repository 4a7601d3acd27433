"""GUI panes (see ARCHITECTURE.md)."""
