"""The desired-state repository: loading and validating manifests, promotions, forges."""
