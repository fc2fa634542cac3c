"""The HTTP edge (FastAPI). Imports the core only."""
