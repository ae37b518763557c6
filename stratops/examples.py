"""What ships inside the package: the example desk and the market data, under ``stratops/data/``.

``stratops/data/example-desk/`` holds the example desk's documents (``strategies/``, ``policy/``,
``analysis/``) that ``stratops init`` copies into a new desk's ``manifests/`` and ``stratops demo``
shows; ``stratops/data/market/`` holds the real market data read by ``backtest``, ``paper run``
and ``demo``. Both are package data, so an install from a wheel carries them. The controller's
own Kubernetes manifests stay in ``manifests/deploy/`` of the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DATA = Path(__file__).resolve().parent / "data"
DATA_DIR_ENV = "STRATOPS_DATA_DIR"


def example_manifests() -> Path:
    """The example desk: the folder of its ``strategies/``, ``policy/`` and ``analysis/``."""
    return PACKAGE_DATA / "example-desk"


def packaged_market_data() -> Path:
    """The market data shipped in the package (``stratops/data/market/``)."""
    return PACKAGE_DATA / "market"


def market_data_dir(data_dir: Path | None = None) -> Path:
    """The folder of the market datasets: ``data_dir``, else ``$STRATOPS_DATA_DIR``, else the
    packaged data."""
    if data_dir is not None:
        return data_dir
    configured = os.environ.get(DATA_DIR_ENV)
    return Path(configured) if configured else packaged_market_data()
