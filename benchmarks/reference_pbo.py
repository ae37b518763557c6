"""A plain reference implementation of PBO by CSCV, for the benchmark and the tests.

It is written the way public implementations (e.g. pypbo, the code of Bailey et al.) do it:
a Python loop over ``itertools.combinations``; for each combination, stack the in-sample and
out-of-sample blocks, compute every strategy's Sharpe ratio with numpy, pick the in-sample
winner and rank it out of sample with ``scipy.stats.rankdata``. Within a combination the
strategies are vectorised (one numpy call for all columns), so the baseline is the fair one,
not a loop over strategies too.

It follows the conventions of :func:`stratops.analytics.overfitting.pbo_cscv` (trailing rows
dropped, ``ddof=1``, first index wins in-sample ties, average OOS ranks, zero-variance
halves ranked below everything) so the two can be compared combination by combination.
It is not part of the package: production code carries no test references.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import rankdata

# Same rule as stratops.analytics.arrays.ZERO_VARIANCE_RTOL, restated so this file stands alone.
ZERO_VARIANCE_RTOL = 1e-12


@dataclass(frozen=True)
class ReferencePBO:
    pbo: float
    logits: NDArray[np.float64]
    is_sharpe: NDArray[np.float64]
    oos_sharpe: NDArray[np.float64]


def sharpe_per_column(rows: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per-period Sharpe ratio of every column, ``-inf`` where the variance is zero."""
    n = rows.shape[0]
    mean = rows.mean(axis=0)
    std = rows.std(axis=0, ddof=1)
    css = (n - 1) * std * std  # sum((r - mean)**2); sum(r**2) = css + n * mean**2
    constant = css <= ZERO_VARIANCE_RTOL * (css + n * mean * mean)
    with np.errstate(invalid="ignore", divide="ignore"):
        sharpe = mean / std
    return np.where(constant, -np.inf, sharpe)


def reference_pbo(
    returns_matrix: ArrayLike, n_blocks: int = 16, max_combinations: int | None = None
) -> ReferencePBO:
    """CSCV with a loop over combinations; only the first ``max_combinations`` if given."""
    x = np.asarray(returns_matrix, dtype=np.float64)
    n_rows, n_strategies = x.shape
    block_len = n_rows // n_blocks
    blocks = [x[b * block_len : (b + 1) * block_len] for b in range(n_blocks)]
    combinations = itertools.combinations(range(n_blocks), n_blocks // 2)
    logits, is_best, oos_best = [], [], []
    for in_sample in itertools.islice(combinations, max_combinations):
        out_of_sample = [b for b in range(n_blocks) if b not in in_sample]
        perf_is = sharpe_per_column(np.vstack([blocks[b] for b in in_sample]))
        perf_oos = sharpe_per_column(np.vstack([blocks[b] for b in out_of_sample]))
        winner = int(np.argmax(perf_is))
        rank = float(rankdata(perf_oos)[winner])  # average rank, 1 = worst
        omega = rank / (n_strategies + 1)
        logits.append(math.log(omega / (1.0 - omega)))
        is_best.append(perf_is[winner])
        oos_best.append(perf_oos[winner])
    logit_array = np.array(logits)
    is_array = np.array(is_best)
    oos_array = np.array(oos_best)
    is_array[np.isinf(is_array)] = np.nan
    oos_array[np.isinf(oos_array)] = np.nan
    return ReferencePBO(
        pbo=float(np.mean(logit_array <= 0.0)),
        logits=logit_array,
        is_sharpe=is_array,
        oos_sharpe=oos_array,
    )
