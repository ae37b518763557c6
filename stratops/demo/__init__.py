"""The demo: the whole stratops story on the embedded defaults, driven through the CLI."""
