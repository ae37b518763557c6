"""Alert rules by market context, rendered for Prometheus and Alertmanager."""
