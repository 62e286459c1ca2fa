"""`conveyor deployments ...`: see running deployments and cancel them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from conveyor.cli.connection import server_session
from conveyor.cli.options import JsonOption
from conveyor.cli.output import print_json, show
from conveyor.cli.rendering import deployments_table

deployments = typer.Typer(
    help="Deployments: changes to apps that are being carried out.", no_args_is_help=True
)


@deployments.command("list")
def list_deployments(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Running deployments: id, apps, current step of all steps, what they are doing."""
    with server_session(ctx) as client:
        found = client.list_deployments()
    if as_json:
        print_json(found)
    elif found:
        show(deployments_table(found))
    else:
        show(Text("no deployments running"))


@deployments.command("cancel")
def cancel_deployment(
    ctx: typer.Context,
    deployment_id: Annotated[str, typer.Argument(metavar="ID", help="Id of the deployment.")],
    *,
    force: Annotated[
        bool,
        typer.Option("--force", help="Just stop it where it is, without rolling back."),
    ] = False,
) -> None:
    """Cancel a deployment: roll its apps back to where they were (a new deployment), or with
    --force stop it where it is."""
    with server_session(ctx) as client:
        rollback = client.cancel_deployment(deployment_id, force=force)
    if rollback is None:
        show(f"deployment {deployment_id} stopped (no rollback)")
    else:
        show(
            f"deployment {deployment_id} cancelled; "
            f"rolling back with deployment {rollback.deployment_id}"
        )
