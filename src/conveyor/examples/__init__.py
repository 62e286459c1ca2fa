"""Example content `conveyor up` deploys on a new data dir."""
