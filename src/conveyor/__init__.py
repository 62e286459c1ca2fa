"""Conveyor: a self-hosted delivery platform for microservices."""
