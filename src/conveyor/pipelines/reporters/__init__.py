"""Reporters: `spool` (the worker's, shipped to the server) and `memory` (in-process)."""
