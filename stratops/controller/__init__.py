"""The controller: gate evaluation against the registry, reconciliation, audit."""
