"""Executes notebooks: kernels, hooks for confirm, dry-run, timing and audit (see DESIGN.md)."""
