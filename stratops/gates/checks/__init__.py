"""Check families. Each check is a pure function ``(GateInputs, thresholds) → CheckResult``."""
