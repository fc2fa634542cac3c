"""The catalog in use: importing it, answering alerts with its procedures."""
