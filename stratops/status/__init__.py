"""The desk at a glance: one row per (strategy, stage), for `stratops status` and the dashboard."""
