"""Placeholder CLI app; the real commands are being written."""

import typer

app = typer.Typer(no_args_is_help=True, help="roomkey: access tokens for real-time rooms.")


@app.command()
def version() -> None:
    """Print the roomkey version."""
    from roomkey import __version__

    typer.echo(__version__)


def main() -> None:
    """Console-script entry point."""
    app()
