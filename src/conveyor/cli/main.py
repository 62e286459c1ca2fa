"""The `conveyor` command (placeholder until the CLI lands)."""

import typer

app = typer.Typer()
