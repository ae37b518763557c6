"""Deterministic promotion gates: (evidence, policy, target stage, context) → gate report.

Everything here is a pure function of its inputs: no I/O, no wall clock, no randomness that is
not seeded from the input digests. The controller recomputes a report and must get the same
bytes that CI put on the pull request.
"""

ENGINE_VERSION = "1"
