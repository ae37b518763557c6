"""Deployment targets behind one interface: local OS processes, Kubernetes."""
