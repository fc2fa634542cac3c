"""Playbooks: one runbook over a fleet of targets, with its inventory and batching strategy."""
