"""`gradmath identity`: not yet available in this version."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add the `identity` subcommand (placeholder until it is built)."""
