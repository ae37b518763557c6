"""Incidents: a timeline in the audit log of who opened, worked and closed each one."""
