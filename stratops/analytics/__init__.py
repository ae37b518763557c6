"""Pure analytics: statistics of strategy returns, TCA, attribution, drawdowns, regimes."""
