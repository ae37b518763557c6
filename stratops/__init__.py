"""stratops: a GitOps strategy registry and promotion controller for a 24/7 trading desk."""

__version__ = "0.1.0"
