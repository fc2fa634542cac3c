"""Running playbooks over a fleet: inventories, batches, per-target steps, drift, import."""
