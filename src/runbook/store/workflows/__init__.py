"""Records of workflow runs, their tasks and the scheduler's per-trigger state."""
