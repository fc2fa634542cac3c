"""Coordination on top of the engine and the store: planning, reviewing, workflows, fleets."""
