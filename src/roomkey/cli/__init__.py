"""The ``roomkey`` command line."""

from roomkey.cli.app import app, main

__all__ = ["app", "main"]
