"""Backtest overfitting: the probability of backtest overfitting (PBO) by CSCV.

A plain, vectorised function over the ``T x N`` matrix of every trial's per-period returns
(one column per trial, per-period Sharpe ratios as in :mod:`stratops.analytics.sharpe`); no
I/O, no state. :func:`pbo_cscv` needs a complete matrix and raises :class:`ValueError` on NaN;
misuse (an odd number of blocks, a 1-D array, ...) raises :class:`ValueError` with what was
seen and how to fix it.

References
----------
.. [BBLZ17] Bailey, D. H., Borwein, J., López de Prado, M. and Zhu, Q. J. (2017). "The
   Probability of Backtest Overfitting". *Journal of Computational Finance* 20(4), 39-69.
   https://ssrn.com/abstract=2326253
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
from numpy.typing import ArrayLike

from stratops.analytics.arrays import ZERO_VARIANCE_RTOL, FloatArray

__all__ = ["MAX_PBO_BLOCKS", "PBOResult", "pbo_cscv"]

MAX_PBO_BLOCKS: Final[int] = 24
"""Largest ``n_blocks`` :func:`pbo_cscv` accepts: C(24, 12) = 2,704,156 combinations."""

# pbo_cscv computes the IS and OOS sums of this many (combination, strategy) cells per
# matrix product (two float64 outputs of 8 MB each): a few dozen BLAS calls rather than
# hundreds, because every call synchronises the BLAS threads, which is slow on a busy machine.
_PBO_PRODUCT_CELLS: Final[int] = 524_288
# ... and scores and ranks them this many cells at a time, 1 MB arrays that stay in the CPU
# cache (measured 2-4x faster than 8 MB ones).
_PBO_SCORE_CELLS: Final[int] = 131_072


@dataclass(frozen=True, eq=False)
class PBOResult:
    """Outcome of :func:`pbo_cscv`. Arrays are read-only, indexed by combination.

    Combination ``c`` is the ``c``-th element of
    ``itertools.combinations(range(n_blocks), n_blocks // 2)`` (its blocks are in-sample).
    """

    pbo: float
    """Probability of backtest overfitting: the fraction of combinations with logit <= 0."""
    logits: FloatArray
    """Logit of the OOS relative rank of the in-sample winner, one per combination."""
    n_combinations: int
    """Number of in-sample/out-of-sample splits, C(n_blocks, n_blocks / 2)."""
    n_blocks: int
    """Number of contiguous blocks the rows were cut into."""
    n_strategies: int
    """Number of strategies (columns) N."""
    n_obs_used: int
    """Rows used: ``n_blocks * (T // n_blocks)``."""
    n_obs_dropped: int
    """Trailing rows dropped so that every block has the same length."""
    is_sharpe: FloatArray
    """Per-period in-sample Sharpe ratio of the in-sample winner (NaN if undefined)."""
    oos_sharpe: FloatArray
    """Per-period out-of-sample Sharpe ratio of the in-sample winner (NaN if undefined)."""
    degradation_slope: float
    """OLS slope of ``oos_sharpe`` on ``is_sharpe`` (negative: in-sample skill does not carry)."""
    prob_oos_loss: float
    """Fraction of combinations whose winner has a negative OOS Sharpe (where defined)."""


@lru_cache(maxsize=8)
def _cscv_membership(n_blocks: int) -> FloatArray:
    """0/1 matrix (C x S): row c marks the in-sample blocks of the c-th combination.

    Rows are in ``itertools.combinations`` (lexicographic) order. In that order the
    complement of row c is row C-1-c, which :func:`pbo_cscv` relies on to compute every
    half once.
    """
    combos = np.array(list(itertools.combinations(range(n_blocks), n_blocks // 2)), dtype=np.intp)
    membership = np.zeros((combos.shape[0], n_blocks), dtype=np.float64)
    np.put_along_axis(membership, combos, 1.0, axis=1)
    if not np.array_equal(membership[::-1], 1.0 - membership):
        raise RuntimeError("internal error: CSCV combinations are not complement-symmetric")
    membership.setflags(write=False)
    return membership


def _halves_score(sums: FloatArray, n_strategies: int, n_rows: int) -> FloatArray:
    """Sharpe score of every strategy over a union of blocks, one row per combination.

    ``sums`` is c x 2N: per combination, the sum of each strategy's returns over the union
    of blocks (first N columns) and the sum of their squares (last N). With n rows in the
    union, the centred sum of squares is ``css = sq - s1**2 / n`` and the score
    ``s1 / sqrt(css)`` is the per-period Sharpe ratio times ``n / sqrt(n - 1)``, a positive
    constant shared by every cell, so it ranks exactly like the Sharpe ratio. For returns
    (mean well below the standard deviation) the rounding error of ``css`` is a few ulps of
    ``sq``, far below the zero-variance tolerance, and a half that is all zeros gives
    exactly 0. Zero-variance halves (the module's rule) score -inf, below every defined
    score.
    """
    s1 = sums[:, :n_strategies]
    sq = sums[:, n_strategies:]
    css = s1 * s1
    css *= -1.0 / n_rows
    css += sq
    constant = css <= ZERO_VARIANCE_RTOL * sq
    np.maximum(css, 0.0, out=css)
    np.sqrt(css, out=css)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(s1, css, out=css)
    css[constant] = -np.inf
    return css


def _winner_logits(
    score_is: FloatArray, score_oos: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Logit of the OOS relative rank of each row's in-sample winner, and its two scores."""
    rows = np.arange(score_is.shape[0])
    n_strategies = score_is.shape[1]
    winner = np.argmax(score_is, axis=1)  # first index among ties
    is_best = score_is[rows, winner]
    oos_best = score_oos[rows, winner]
    target = oos_best[:, np.newaxis]
    below = np.count_nonzero(score_oos < target, axis=1)
    tied = np.count_nonzero(score_oos == target, axis=1)  # includes the winner itself
    rank = below + (tied + 1) / 2.0  # average rank (1 = worst, N = best)
    omega = rank / (n_strategies + 1.0)
    logits = np.log(omega / (1.0 - omega))
    return logits, is_best, oos_best


def _validate_pbo_input(returns_matrix: ArrayLike, n_blocks: int) -> FloatArray:
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, int | np.integer):
        raise ValueError(f"n_blocks must be an integer; got {n_blocks!r}.")
    if n_blocks < 2 or n_blocks % 2:
        raise ValueError(
            f"n_blocks must be an even number >= 2 so the blocks split into two equal "
            f"halves; got {n_blocks}. 16 is the usual choice."
        )
    if n_blocks > MAX_PBO_BLOCKS:
        count = math.comb(n_blocks, n_blocks // 2)
        raise ValueError(
            f"n_blocks={n_blocks} means {count:,} combinations, too many to enumerate; use "
            f"at most {MAX_PBO_BLOCKS} (16 gives 12,870)."
        )
    x = np.asarray(returns_matrix, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(
            f"returns_matrix must be 2-D (T periods x N strategies); got shape {x.shape}."
        )
    t_rows, n_strategies = x.shape
    if n_strategies < 2:
        raise ValueError(
            f"PBO ranks strategies against each other and needs at least 2 columns; got "
            f"{n_strategies}. Pass every trial of the search, one per column."
        )
    if t_rows < n_blocks:
        raise ValueError(
            f"returns_matrix has {t_rows} rows, fewer than n_blocks={n_blocks}; every block "
            f"needs at least one row. Use fewer blocks or a longer history."
        )
    if (n_blocks // 2) * (t_rows // n_blocks) < 2:
        raise ValueError(
            f"with {t_rows} rows and n_blocks={n_blocks} each half holds a single row, and "
            f"a Sharpe ratio needs 2; use at least {2 * n_blocks} rows."
        )
    bad = ~np.isfinite(x)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"returns_matrix contains {int(bad.sum())} NaN or infinite value(s), the first "
            f"at row {row}, column {col}. CSCV needs a complete matrix: fill missing periods "
            f"(0.0 for a flat strategy) or trim the rows to the common history."
        )
    return x


def pbo_cscv(returns_matrix: ArrayLike, n_blocks: int = 16) -> PBOResult:
    r"""Probability of backtest overfitting by combinatorially symmetric cross-validation.

    Bailey, Borwein, López de Prado & Zhu (2017) [BBLZ17]_:

    1. Cut the T x N matrix of per-period returns (one column per strategy tried) into
       :math:`S` = ``n_blocks`` contiguous blocks of equal length :math:`L = \lfloor T/S
       \rfloor`; the last :math:`T - SL` rows are dropped.
    2. For each of the :math:`C = \binom{S}{S/2}` ways to choose half of the blocks as the
       in-sample (IS) set, the other half being out-of-sample (OOS):

       * compute the per-period Sharpe ratio (mean / std, ``ddof=1``) of every strategy
         IS and OOS;
       * take the IS winner :math:`n^*` (first index among ties);
       * take its OOS rank :math:`\omega_c` among the N strategies (1 = worst, N = best;
         ties get the average rank) and the relative rank
         :math:`\bar\omega_c = \omega_c / (N+1)`;
       * the logit :math:`\lambda_c = \ln(\bar\omega_c / (1 - \bar\omega_c))`.
    3. :math:`PBO = \#\{c : \lambda_c \le 0\} / C`: how often the IS winner is no better
       than the OOS median.

    Parameters
    ----------
    returns_matrix : array_like, shape (T, N)
        Per-period returns of N >= 2 strategies over the same T periods, no NaN.
    n_blocks : int, default 16
        Even number of blocks :math:`S`, from 2 to :data:`MAX_PBO_BLOCKS`; 16 gives
        12,870 combinations.

    Returns
    -------
    PBOResult
        ``pbo``, the logits and the winner's IS/OOS Sharpe ratios per combination, the
        slope of OOS on IS Sharpe ("performance degradation") and the probability of an
        OOS loss.

    Raises
    ------
    ValueError
        If ``n_blocks`` is not an even integer in [2, 24], the matrix is not 2-D, has fewer
        than 2 columns, too few rows for the blocks, or contains NaN or infinities.

    Notes
    -----
    Deterministic and vectorised, no randomness. Per block, the sum and the sum of squares
    of every strategy are computed once (S x N); the IS sums of all combinations then come
    from a matrix product with the C x S 0/1 membership matrix, and the OOS sums from its
    complement, which is row C-1-c in lexicographic order, so every half is computed once.
    All halves have the same length, so strategies are compared on
    ``sum / sqrt(centred sum of squares)``, a positive multiple of the Sharpe ratio with
    identical ranks. Combinations are processed in chunks: memory stays at about 20 MB
    beyond the input and the outputs, whatever the number of strategies. 1,000 strategies
    x 1,095 days x 16 blocks take about 0.2 s on one core (``benchmarks/bench_pbo.py``).

    A strategy whose returns over a half have zero variance (the module's rule, e.g. a
    strategy that was flat throughout) has an undefined Sharpe ratio there: it ranks below
    every defined one and ties with the other undefined ones.
    """
    x = _validate_pbo_input(returns_matrix, n_blocks)
    t_rows, n_strategies = x.shape
    block_len = t_rows // n_blocks
    used = n_blocks * block_len
    half_rows = (n_blocks // 2) * block_len

    blocks = x[:used].reshape(n_blocks, block_len, n_strategies)
    block_stats = np.concatenate([blocks.sum(axis=1), (blocks * blocks).sum(axis=1)], axis=1)

    membership = _cscv_membership(n_blocks)
    n_comb = membership.shape[0]
    half = n_comb // 2  # rows 0..half-1 contain block 0; row C-1-c is the complement of c
    logits = np.empty(n_comb, dtype=np.float64)
    is_sharpe = np.empty(n_comb, dtype=np.float64)
    oos_sharpe = np.empty(n_comb, dtype=np.float64)
    product_rows = max(1, _PBO_PRODUCT_CELLS // n_strategies)
    score_rows = max(1, _PBO_SCORE_CELLS // n_strategies)
    for start in range(0, half, product_rows):
        first = membership[start : min(half, start + product_rows)]
        sums_a = first @ block_stats  # IS sums of combinations start..; OOS of their mirrors
        sums_b = (1.0 - first) @ block_stats
        for sub in range(0, first.shape[0], score_rows):
            rows = slice(sub, min(first.shape[0], sub + score_rows))
            score_a = _halves_score(sums_a[rows], n_strategies, half_rows)
            score_b = _halves_score(sums_b[rows], n_strategies, half_rows)
            combo = start + np.arange(sub, rows.stop)
            mirror = n_comb - 1 - combo
            logits[combo], is_sharpe[combo], oos_sharpe[combo] = _winner_logits(score_a, score_b)
            logits[mirror], is_sharpe[mirror], oos_sharpe[mirror] = _winner_logits(score_b, score_a)

    score_to_sharpe = math.sqrt(half_rows - 1.0) / half_rows
    is_sharpe *= score_to_sharpe
    oos_sharpe *= score_to_sharpe
    is_sharpe[np.isinf(is_sharpe)] = np.nan
    oos_sharpe[np.isinf(oos_sharpe)] = np.nan
    for array in (logits, is_sharpe, oos_sharpe):
        array.setflags(write=False)
    return PBOResult(
        pbo=float(np.count_nonzero(logits <= 0.0)) / n_comb,
        logits=logits,
        n_combinations=n_comb,
        n_blocks=n_blocks,
        n_strategies=n_strategies,
        n_obs_used=used,
        n_obs_dropped=t_rows - used,
        is_sharpe=is_sharpe,
        oos_sharpe=oos_sharpe,
        degradation_slope=_ols_slope(is_sharpe, oos_sharpe),
        prob_oos_loss=_fraction_negative(oos_sharpe),
    )


def _ols_slope(x: FloatArray, y: FloatArray) -> float:
    """Least-squares slope of y on x over the pairs where both are finite; NaN if undefined."""
    finite = np.isfinite(x) & np.isfinite(y)
    if np.count_nonzero(finite) < 2:
        return math.nan
    dx = x[finite] - x[finite].mean()
    sxx = float(dx @ dx)
    if sxx <= 0.0:
        return math.nan
    return float(dx @ (y[finite] - y[finite].mean())) / sxx


def _fraction_negative(values: FloatArray) -> float:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.nan
    return float(np.count_nonzero(finite < 0.0)) / finite.size
