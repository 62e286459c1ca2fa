"""Pure types and rules: no I/O, nothing else of Conveyor imported."""
