"""Errors of the paper engine, arranged by what the caller can do about them.

::

    PaperError                  base: never raised itself
    ├── MarketDataError         the market data is unusable: fix the file, or allow repair
    ├── StrategyError           the strategy model cannot be loaded or answers in the wrong shape
    └── ConfigError             a bad option: unknown dataset, non-positive allocation, ...

All three are bad input (the CLI exits 2). A strategy that returns NaN or a position beyond
its limit is *not* an error: the engine clips it and records a risk event (``events.parquet``).
Each error carries a stable ``code``.
"""

from __future__ import annotations


class PaperError(Exception):
    """Base of the paper engine's errors; ``code`` is stable, ``str()`` teaches the fix."""

    code = "paper"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class MarketDataError(PaperError):
    """Market data that cannot be read, or that the ``reject`` policy refuses."""

    code = "market_data"


class StrategyError(PaperError):
    """A strategy model that cannot be loaded, or whose output has the wrong shape."""

    code = "strategy"


class ConfigError(PaperError):
    """An engine or command option that cannot work."""

    code = "config"
