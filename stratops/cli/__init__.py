"""The ``stratops`` command line: parse, call, render. No decisions live here."""
