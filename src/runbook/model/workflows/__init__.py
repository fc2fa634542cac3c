"""Workflows: DAGs of notebook tasks read from workflows/*.yml, their triggers and sensors."""
