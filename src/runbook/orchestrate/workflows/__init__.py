"""Running workflows: the DAG executor, the scheduler and its sensors, finding workflow files."""
