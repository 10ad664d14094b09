"""`gradmath counterexample`: not yet available in this version."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add the `counterexample` subcommand (placeholder until it is built)."""
