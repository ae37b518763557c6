"""Pydantic models of every stratops document: manifests, policies, templates, bundles."""
