"""Runbooks as code: rendered for people, their commands checked against the CLI."""
