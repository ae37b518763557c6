"""What libraries may print: quiet unless ``stratops -v`` (or ``STRATOPS_VERBOSE=1``).

MLflow logs INFO and WARNING lines of its own to stderr (``Creating initial MLflow database
tables...`` on a fresh store, model signature notes) and may emit Python warnings; stratops
reports what matters in its own words, so by default these stay out of the terminal. Their
ERROR lines still show.

This runs while the command line is parsed, before any command module imports MLflow: MLflow
sets its loggers up once, on import, from ``MLFLOW_LOGGING_LEVEL`` (for ``mlflow``,
``alembic`` and ``huey``), so that is the knob. A level the user set is left alone, and so is
everything with ``-v``; subprocesses (paper runs of the controller, demo steps) inherit both.
"""

from __future__ import annotations

import os
import warnings

VERBOSE_ENV = "STRATOPS_VERBOSE"
MLFLOW_LEVEL_ENV = "MLFLOW_LOGGING_LEVEL"
QUIET_MLFLOW_LEVEL = "ERROR"
QUIET_WARNING_MODULES = r"(mlflow|alembic)(\.|$)"


def set_verbosity(verbose: bool) -> None:
    """Let MLflow speak (``verbose``), or keep its INFO, WARNING and warnings quiet."""
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
        return
    os.environ.setdefault(MLFLOW_LEVEL_ENV, QUIET_MLFLOW_LEVEL)
    warnings.filterwarnings("ignore", module=QUIET_WARNING_MODULES)
