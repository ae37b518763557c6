"""Tests of analytics.sharpe, .risk and .overfitting: named cases, cross-checks, invariances.

Expected values are computed here from the papers' formulas with scipy.stats.norm, written
out independently of the code under test; Sharpe ratio and drawdown are compared with
empyrical; PBO is compared with a plain loop over itertools.combinations
(benchmarks/reference_pbo.py).
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import sys
from pathlib import Path
from types import ModuleType

import empyrical
import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray
from scipy import integrate, stats

from stratops.analytics.overfitting import PBOResult, pbo_cscv
from stratops.analytics.risk import expected_shortfall
from stratops.analytics.sharpe import (
    EULER_MASCHERONI,
    SampleMoments,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    min_track_record_length,
    per_period_sharpe,
    probabilistic_sharpe_ratio,
    sample_moments,
    sharpe_ratio,
)

NAN = math.nan
PROPERTY = settings(deadline=None, max_examples=60)


def _load_reference() -> ModuleType:
    """Load benchmarks/reference_pbo.py by path (benchmarks/ is not a package)."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "reference_pbo.py"
    spec = importlib.util.spec_from_file_location("_stratops_reference_pbo", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


reference = _load_reference()


def real_looking(seed: int, n: int = 1095) -> NDArray[np.float64]:
    """Daily crypto-like returns: GARCH(1,1) volatility, Student-t shocks, one crash day."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(4.0, size=n) / math.sqrt(2.0)
    variance = np.empty(n)
    returns = np.empty(n)
    variance[0] = 0.03**2
    for t in range(n):
        if t:
            variance[t] = 2e-5 + 0.1 * returns[t - 1] ** 2 + 0.85 * variance[t - 1]
        returns[t] = 0.0008 + math.sqrt(variance[t]) * shocks[t]
    returns[n // 3] = -0.35  # a 2024-08-05-style crash
    return np.clip(returns, -0.9, 3.0)


# --------------------------------------------------------------------------- Sharpe ratio

SHARPE_CASES = [
    # name, returns, per-period Sharpe (hand-computed)
    ("two_points", [0.01, 0.03], 0.02 / math.sqrt(2e-4)),
    ("zero_mean", [0.01, -0.01, 0.01, -0.01], 0.0),
    ("negative", [-0.02, -0.01, 0.0], -1.0),
    ("missing_period_ignored", [0.01, NAN, 0.03], 0.02 / math.sqrt(2e-4)),
    ("one_observation", [0.01], NAN),
    ("empty", [], NAN),
    ("only_missing", [NAN, NAN], NAN),
    ("constant", [0.01] * 7, NAN),
    ("all_zero", [0.0] * 5, NAN),
]


@pytest.mark.parametrize(
    ("returns", "expected"),
    [pytest.param(r, e, id=name) for name, r, e in SHARPE_CASES],
)
def test_sharpe_named_cases(returns: list[float], expected: float) -> None:
    assert per_period_sharpe(returns) == pytest.approx(expected, rel=1e-12, nan_ok=True)
    assert sharpe_ratio(returns, periods_per_year=None) == pytest.approx(
        expected, rel=1e-12, nan_ok=True
    )
    assert sharpe_ratio(returns, periods_per_year=1) == pytest.approx(
        expected, rel=1e-12, nan_ok=True
    )
    assert sharpe_ratio(returns) == pytest.approx(expected * math.sqrt(365), rel=1e-12, nan_ok=True)
    assert sharpe_ratio(returns, periods_per_year=8760) == pytest.approx(
        expected * math.sqrt(8760), rel=1e-12, nan_ok=True
    )


def test_sharpe_of_matrix_is_per_column() -> None:
    columns = [case[1] + [NAN] * (3 - len(case[1])) for case in SHARPE_CASES if len(case[1]) <= 3]
    matrix = np.array(columns).T
    result = sharpe_ratio(matrix)
    assert isinstance(result, np.ndarray)
    assert result.shape == (matrix.shape[1],)
    for j in range(matrix.shape[1]):
        assert result[j] == pytest.approx(sharpe_ratio(matrix[:, j]), nan_ok=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sharpe_matches_empyrical(seed: int) -> None:
    rng = np.random.default_rng(seed)
    series = {
        "normal": rng.normal(0.001, 0.02, size=1095),
        "real_looking": real_looking(seed),
        "short": rng.normal(0.0, 0.01, size=5),
    }
    for name, returns in series.items():
        for periods in (365, 252, 8760):
            expected = empyrical.sharpe_ratio(returns, annualization=periods)
            assert sharpe_ratio(returns, periods) == pytest.approx(expected, rel=1e-10), name
    matrix = pd.DataFrame(rng.normal(0.0005, 0.02, size=(400, 6)))
    matrix.iloc[3, 2] = NAN  # empyrical ignores NaN too
    np.testing.assert_allclose(
        sharpe_ratio(matrix), empyrical.sharpe_ratio(matrix, annualization=365), rtol=1e-10
    )


def test_empyrical_uses_sample_std_like_us() -> None:
    returns = np.array([0.01, 0.03])  # ddof=1 std is sqrt(2) times the ddof=0 one
    expected = 0.02 / np.std(returns, ddof=1) * math.sqrt(365)
    assert empyrical.sharpe_ratio(returns, annualization=365) == pytest.approx(expected)
    assert sharpe_ratio(returns) == pytest.approx(expected)


def test_constant_series_is_nan_where_empyrical_is_inf() -> None:
    returns = np.full(10, 0.001)
    assert math.isinf(empyrical.sharpe_ratio(returns, annualization=365))
    assert math.isnan(sharpe_ratio(returns))  # an undefined ratio, not an infinitely good one


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf, True])
def test_sharpe_rejects_bad_periods_per_year(bad: float) -> None:
    with pytest.raises(ValueError, match="periods_per_year"):
        sharpe_ratio([0.01, 0.02], periods_per_year=bad)


@pytest.mark.parametrize("func", [sharpe_ratio, per_period_sharpe, expected_shortfall])
def test_return_functions_reject_bad_arrays(func: object) -> None:
    assert callable(func)
    with pytest.raises(ValueError, match="1-D"):
        func(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="infinite"):
        func([0.01, math.inf])


# Returns of a strategy: up to +-50 %, and either 0 or at least 1e-12 in magnitude (squares
# of 1e-159 are subnormal floats; no return series looks like that).
returns_lists = st.lists(
    st.floats(min_value=-0.5, max_value=0.5).map(lambda v: 0.0 if abs(v) < 1e-12 else v),
    min_size=2,
    max_size=60,
)


@PROPERTY
@given(returns=returns_lists, factor=st.floats(min_value=1e-3, max_value=1e3))
def test_sharpe_invariant_to_positive_scaling(returns: list[float], factor: float) -> None:
    r = np.array(returns)
    centred = float(((r - r.mean()) ** 2).sum())
    assume(centred > 1e-6 * float((r * r).sum()))  # clearly not constant
    assert sharpe_ratio(r * factor) == pytest.approx(sharpe_ratio(r), rel=1e-9, abs=1e-12)
    assert sharpe_ratio(-r) == pytest.approx(-sharpe_ratio(r), rel=1e-12, abs=1e-12)


@PROPERTY
@given(
    matrix=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=8),
        elements=st.one_of(st.just(NAN), st.floats(min_value=-0.3, max_value=0.3)),
    )
)
def test_matrix_functions_equal_column_by_column(matrix: NDArray[np.float64]) -> None:
    for func in (sharpe_ratio, expected_shortfall):
        result = func(matrix)
        assert isinstance(result, np.ndarray)
        for j in range(matrix.shape[1]):
            column = func(matrix[:, j])
            assert isinstance(column, float)
            assert result[j] == pytest.approx(column, rel=1e-12, abs=1e-15, nan_ok=True)


# --------------------------------------------------------------------------- sample moments


def test_sample_moments_match_scipy_population_moments() -> None:
    returns = real_looking(7)
    moments = sample_moments(returns)
    assert isinstance(moments, SampleMoments)
    assert moments.n_obs == returns.size
    assert moments.sharpe == pytest.approx(per_period_sharpe(returns), rel=1e-12)
    assert moments.skew == pytest.approx(stats.skew(returns, bias=True), rel=1e-9)
    assert moments.kurtosis == pytest.approx(
        stats.kurtosis(returns, fisher=False, bias=True), rel=1e-9
    )
    assert moments.kurtosis > 3.0  # raw kurtosis, fat tails: not excess


def test_sample_moments_of_a_normal_sample_have_raw_kurtosis_near_3() -> None:
    moments = sample_moments(np.random.default_rng(11).normal(0.0, 0.01, size=200_000))
    assert moments.skew == pytest.approx(0.0, abs=0.02)
    assert moments.kurtosis == pytest.approx(3.0, abs=0.05)


@pytest.mark.parametrize(
    ("returns", "n_obs"),
    [([], 0), ([0.01], 1), ([0.02] * 4, 4), ([NAN, 0.01, NAN], 1)],
)
def test_sample_moments_nan_policy(returns: list[float], n_obs: int) -> None:
    moments = sample_moments(returns)
    assert moments.n_obs == n_obs
    assert math.isnan(moments.sharpe)
    assert math.isnan(moments.skew)
    assert math.isnan(moments.kurtosis)


def test_sample_moments_drop_missing_periods() -> None:
    assert sample_moments([0.01, NAN, 0.03, -0.02]) == sample_moments([0.01, 0.03, -0.02])


def test_sample_moments_reject_a_matrix() -> None:
    with pytest.raises(ValueError, match="1-D"):
        sample_moments(np.zeros((3, 2)))


# --------------------------------------------------------------------------- expected shortfall

LADDER = np.arange(1, 41) / 100 - 0.2  # -0.19, -0.18, ..., 0.20


@pytest.mark.parametrize(
    ("returns", "level", "expected"),
    [
        pytest.param(LADDER, 0.95, (0.19 + 0.18) / 2, id="two_worst_of_40"),
        pytest.param(LADDER, 0.975, 0.19, id="worst_of_40"),
        pytest.param(LADDER[::-1], 0.95, (0.19 + 0.18) / 2, id="order_irrelevant"),
        pytest.param(
            [-0.05, -0.04, -0.03, -0.02, -0.01, 0.0, 0.01, 0.02, 0.03, 0.04],
            0.75,
            (0.05 + 0.04 + 0.5 * 0.03) / 2.5,
            id="fractional_boundary_weight",
        ),
        pytest.param([-0.1, 0.2, 0.3], 0.99, 0.1, id="tail_narrower_than_one_obs"),
        pytest.param([0.01, 0.02, 0.03, 0.04], 0.5, -0.015, id="gain_in_tail_is_negative"),
        pytest.param([-0.1, NAN, 0.2, NAN], 0.5, 0.1, id="missing_dropped"),
        pytest.param([], 0.975, NAN, id="empty"),
    ],
)
def test_expected_shortfall_named_cases(
    returns: list[float], level: float, expected: float
) -> None:
    assert expected_shortfall(returns, level) == pytest.approx(
        expected, rel=1e-12, abs=1e-15, nan_ok=True
    )


def test_expected_shortfall_tail_width_is_not_inflated_by_rounding() -> None:
    # 1000 x (1 - 0.975) is 25.000000000000025 in floating point: exactly 25 periods count.
    returns = np.random.default_rng(5).permutation(np.arange(1000.0)) / 10_000 - 0.05
    worst_25 = np.sort(returns)[:25]
    assert expected_shortfall(returns) == pytest.approx(-worst_25.mean(), rel=1e-12)


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5, -0.1])
def test_expected_shortfall_rejects_bad_level(level: float) -> None:
    with pytest.raises(ValueError, match="level"):
        expected_shortfall([0.01, -0.02], level)


@PROPERTY
@given(
    returns=st.lists(st.floats(min_value=-0.9, max_value=0.9), min_size=1, max_size=80),
    level=st.floats(min_value=0.5, max_value=0.999),
)
def test_expected_shortfall_between_mean_loss_and_worst_loss(
    returns: list[float], level: float
) -> None:
    r = np.array(returns)
    es = expected_shortfall(r, level)
    assert -r.mean() - 1e-12 <= es <= -r.min() + 1e-12


# --------------------------------------------------------------------------- PSR, DSR, MinTRL


def psr_by_hand(sr: float, n: float, skew: float, kurt: float, bench: float = 0.0) -> float:
    """Bailey & López de Prado (2012), the PSR formula, written out."""
    sd = math.sqrt(1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr**2)
    return float(stats.norm.cdf((sr - bench) * math.sqrt(n - 1.0) / sd))


def emax_by_hand(variance: float, n: float) -> float:
    """Bailey & López de Prado (2014), expected maximum Sharpe of N trials, written out."""
    g = 0.5772156649015329
    return math.sqrt(variance) * float(
        (1 - g) * stats.norm.ppf(1 - 1 / n) + g * stats.norm.ppf(1 - 1 / (n * math.e))
    )


PSR_CASES = [
    # name, sr (per period), n_obs, skew, raw kurtosis, benchmark
    ("normal_daily_one_year", 0.1, 365, 0.0, 3.0, 0.0),
    ("dsr_paper_returns_vs_zero", 2.5 / math.sqrt(250), 1250, -3.0, 10.0, 0.0),
    ("fat_tails_vs_benchmark", 0.08, 500, -0.5, 6.0, 0.05),
    ("positive_skew_helps", 0.08, 500, 0.8, 6.0, 0.05),
    ("below_benchmark", 0.02, 500, -0.5, 6.0, 0.05),
    ("monthly_short_record", 0.45, 24, -2.4, 10.0, 0.0),
]


@pytest.mark.parametrize(
    ("sr", "n", "skew", "kurt", "bench"),
    [pytest.param(*case[1:], id=case[0]) for case in PSR_CASES],
)
def test_psr_named_cases(sr: float, n: float, skew: float, kurt: float, bench: float) -> None:
    expected = psr_by_hand(sr, n, skew, kurt, bench)
    assert probabilistic_sharpe_ratio(sr, n, skew, kurt, bench) == pytest.approx(
        expected, rel=1e-12
    )


def test_psr_of_sr_at_benchmark_is_one_half() -> None:
    assert probabilistic_sharpe_ratio(0.05, 400, -1.0, 5.0, 0.05) == 0.5


def test_psr_negative_skew_and_fat_tails_lower_confidence() -> None:
    normal = probabilistic_sharpe_ratio(0.08, 250, 0.0, 3.0)
    assert probabilistic_sharpe_ratio(0.08, 250, -2.0, 3.0 + 4.0 + 5.0) < normal


@pytest.mark.parametrize(
    ("sr", "n", "skew", "kurt"),
    [
        pytest.param(0.1, 1, 0.0, 3.0, id="one_observation"),
        pytest.param(0.1, 0, 0.0, 3.0, id="no_observation"),
        pytest.param(NAN, 100, 0.0, 3.0, id="nan_sr"),
        pytest.param(0.1, 100, NAN, 3.0, id="nan_skew"),
        pytest.param(1.0, 100, 0.0, -10.0, id="impossible_moments"),
    ],
)
def test_psr_nan_policy(sr: float, n: float, skew: float, kurt: float) -> None:
    assert math.isnan(probabilistic_sharpe_ratio(sr, n, skew, kurt))


def test_psr_broadcasts_arrays() -> None:
    srs = np.array([0.0, 0.05, 0.1])
    result = probabilistic_sharpe_ratio(srs, 250, 0.0, 3.0)
    assert isinstance(result, np.ndarray)
    np.testing.assert_allclose(result, [psr_by_hand(s, 250, 0.0, 3.0) for s in srs], rtol=1e-12)


EMAX_CASES = [
    ("two_trials", 1.0, 2),
    ("ten_trials", 1.0, 10),
    ("hundred_trials", 1.0, 100),
    ("dsr_paper", 0.5 / 250, 100),
    ("effective_trials_non_integer", 0.01, 37.5),
]


@pytest.mark.parametrize(
    ("variance", "n"), [pytest.param(*case[1:], id=case[0]) for case in EMAX_CASES]
)
def test_expected_max_sharpe_named_cases(variance: float, n: float) -> None:
    assert expected_max_sharpe(variance, n) == pytest.approx(emax_by_hand(variance, n), rel=1e-12)


def test_expected_max_sharpe_conventions() -> None:
    assert expected_max_sharpe(0.3, 1) == 0.0  # one unskilled trial: expected SR 0
    assert expected_max_sharpe(0.0, 100) == 0.0
    assert math.isnan(expected_max_sharpe(NAN, 10))
    assert np.euler_gamma == EULER_MASCHERONI


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_expected_max_sharpe_close_to_exact_expected_maximum(n: int) -> None:
    # E[max of n standard normals] by quadrature; the approximation is within 3 %.
    def density(x: float) -> float:
        return float(x * n * stats.norm.pdf(x) * stats.norm.cdf(x) ** (n - 1))

    exact = integrate.quad(density, -12, 12, limit=200)[0]
    assert expected_max_sharpe(1.0, n) == pytest.approx(exact, rel=0.03)


@pytest.mark.parametrize(("variance", "n"), [(1.0, 0.5), (1.0, 0), (-0.1, 10)])
def test_expected_max_sharpe_rejects_bad_inputs(variance: float, n: float) -> None:
    with pytest.raises(ValueError, match=r"n_trials|sr_variance"):
        expected_max_sharpe(variance, n)


def test_dsr_paper_example() -> None:
    """Bailey & López de Prado (2014), numerical example: N=100, V=1/2 (annual), T=1250 days,
    annual SR 2.5, skew -3, kurtosis 10 give SR0 ~ 0.1132 and DSR ~ 0.9004 (as printed)."""
    variance, sr = 0.5 / 250, 2.5 / math.sqrt(250)
    assert expected_max_sharpe(variance, 100) == pytest.approx(0.1132, abs=5e-5)
    dsr = deflated_sharpe_ratio(sr, 1250, -3.0, 10.0, variance, 100)
    assert dsr == pytest.approx(0.9004, abs=5e-5)
    expected = psr_by_hand(sr, 1250, -3.0, 10.0, bench=emax_by_hand(variance, 100))
    assert dsr == pytest.approx(expected, rel=1e-12)


def test_dsr_with_one_trial_is_psr_against_zero() -> None:
    assert deflated_sharpe_ratio(0.1, 500, -1.0, 6.0, 0.01, 1) == pytest.approx(
        psr_by_hand(0.1, 500, -1.0, 6.0)
    )


MINTRL_CASES = [
    # name, sr, skew, kurt, benchmark, confidence
    ("normal_95", 0.1, 0.0, 3.0, 0.0, 0.95),
    ("fat_tails_99", 0.1, -1.0, 8.0, 0.0, 0.99),
    ("vs_benchmark", 0.15, -0.5, 5.0, 0.05, 0.95),
]


@pytest.mark.parametrize(
    ("sr", "skew", "kurt", "bench", "confidence"),
    [pytest.param(*case[1:], id=case[0]) for case in MINTRL_CASES],
)
def test_min_track_record_length_named_cases(
    sr: float, skew: float, kurt: float, bench: float, confidence: float
) -> None:
    radicand = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr**2
    expected = 1.0 + radicand * (stats.norm.ppf(confidence) / (sr - bench)) ** 2
    length = min_track_record_length(sr, skew, kurt, bench, confidence)
    assert length == pytest.approx(expected, rel=1e-12)
    # MinTRL inverts PSR: with exactly that many observations PSR equals the confidence.
    assert probabilistic_sharpe_ratio(sr, length, skew, kurt, bench) == pytest.approx(
        confidence, rel=1e-12
    )


def test_min_track_record_length_edge_cases() -> None:
    assert min_track_record_length(0.05, 0.0, 3.0, sr_benchmark=0.05) == math.inf
    assert min_track_record_length(-0.1, 0.0, 3.0) == math.inf
    assert math.isnan(min_track_record_length(NAN, 0.0, 3.0))
    assert math.isnan(min_track_record_length(1.0, 0.0, -10.0))
    for confidence in (0.0, 1.0, 1.2):
        with pytest.raises(ValueError, match="confidence"):
            min_track_record_length(0.1, 0.0, 3.0, confidence=confidence)


@st.composite
def valid_moments(draw: st.DrawFn) -> tuple[float, float]:
    """(skew, raw kurtosis) with |skew| <= 2 satisfying Pearson's kurtosis >= 1 + skew**2."""
    skew = draw(st.floats(min_value=-2.0, max_value=2.0))
    excess_over_bound = draw(st.floats(min_value=0.0, max_value=20.0))
    return skew, 1.0 + skew * skew + excess_over_bound


@PROPERTY
@given(
    sr=st.floats(min_value=-0.5, max_value=0.5),
    step=st.floats(min_value=1e-4, max_value=0.5),
    n=st.integers(min_value=2, max_value=5000),
    moments=valid_moments(),
)
def test_psr_in_unit_interval_and_monotone_in_sr(
    sr: float, step: float, n: int, moments: tuple[float, float]
) -> None:
    # d PSR / d SR has the sign of 1 - skew * SR / 2 (benchmark 0), positive on this domain
    # (|skew| <= 2, |SR| <= 0.5); per-period Sharpe ratios of real strategies live there.
    skew, kurt = moments
    higher = min(sr + step, 0.5)
    low = probabilistic_sharpe_ratio(sr, n, skew, kurt)
    high = probabilistic_sharpe_ratio(higher, n, skew, kurt)
    assert 0.0 <= low <= 1.0
    assert 0.0 <= high <= 1.0
    assert high >= low


@PROPERTY
@given(
    sr=st.floats(min_value=-0.5, max_value=0.5),
    n_obs=st.integers(min_value=2, max_value=5000),
    moments=valid_moments(),
    variance=st.floats(min_value=1e-8, max_value=0.1),
    n_trials=st.integers(min_value=2, max_value=100_000),
)
def test_dsr_never_exceeds_psr_against_zero(
    sr: float, n_obs: int, moments: tuple[float, float], variance: float, n_trials: int
) -> None:
    skew, kurt = moments
    dsr = deflated_sharpe_ratio(sr, n_obs, skew, kurt, variance, n_trials)
    assert 0.0 <= dsr <= probabilistic_sharpe_ratio(sr, n_obs, skew, kurt)


@PROPERTY
@given(
    variance=st.floats(min_value=1e-8, max_value=1.0),
    n=st.integers(min_value=2, max_value=1_000_000),
    extra=st.integers(min_value=1, max_value=1000),
)
def test_expected_max_sharpe_grows_with_trials(variance: float, n: int, extra: int) -> None:
    base = expected_max_sharpe(variance, n)
    assert base > 0.0
    assert expected_max_sharpe(variance, n + extra) > base
    assert expected_max_sharpe(4.0 * variance, n) == pytest.approx(2.0 * base, rel=1e-12)


@PROPERTY
@given(
    sr=st.floats(min_value=0.001, max_value=0.5),
    step=st.floats(min_value=1e-3, max_value=0.5),
    moments=valid_moments(),
    confidence=st.floats(min_value=0.5, max_value=0.999),
)
def test_min_track_record_length_decreases_as_sr_grows(
    sr: float, step: float, moments: tuple[float, float], confidence: float
) -> None:
    # d MinTRL / d SR has the sign of skew * SR - 2 (benchmark 0): negative on this domain.
    skew, kurt = moments
    longer = min_track_record_length(sr, skew, kurt, confidence=confidence)
    shorter = min_track_record_length(sr + step, skew, kurt, confidence=confidence)
    assert 1.0 <= shorter <= longer


# --------------------------------------------------------------------------- PBO by CSCV


def assert_matches_reference(matrix: NDArray[np.float64], n_blocks: int) -> PBOResult:
    result = pbo_cscv(matrix, n_blocks=n_blocks)
    expected = reference.reference_pbo(matrix, n_blocks=n_blocks)
    assert result.n_combinations == math.comb(n_blocks, n_blocks // 2) == expected.logits.size
    np.testing.assert_allclose(result.logits, expected.logits, rtol=0, atol=1e-9)
    assert result.pbo == expected.pbo
    np.testing.assert_allclose(result.is_sharpe, expected.is_sharpe, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.oos_sharpe, expected.oos_sharpe, rtol=1e-9, atol=1e-12)
    return result


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pbo_matches_reference_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    matrix = rng.standard_t(4.0, size=(400, 20)) * 0.01 + rng.normal(0.0, 0.001, size=20)
    result = assert_matches_reference(matrix, n_blocks=8)
    assert result.n_strategies == 20
    assert result.n_obs_used == 400
    assert result.n_obs_dropped == 0


def test_pbo_matches_reference_with_flat_strategies_and_exact_ties() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(0.0, 0.01, size=(160, 6))
    matrix = np.concatenate([base, base[:, :3], np.zeros((160, 2))], axis=1)
    matrix[:80, 0] = 0.0  # flat for the first half of history
    matrix[40:, 7] = 0.002  # constant accrual after a while
    for n_blocks in (2, 4, 8):
        result = assert_matches_reference(matrix, n_blocks)
        assert np.isfinite(result.logits).all()


def test_pbo_drops_trailing_rows() -> None:
    matrix = np.random.default_rng(4).normal(0.0, 0.01, size=(407, 10))
    result = pbo_cscv(matrix, n_blocks=8)
    assert (result.n_obs_used, result.n_obs_dropped) == (400, 7)
    np.testing.assert_array_equal(result.logits, pbo_cscv(matrix[:400], n_blocks=8).logits)


def test_pbo_is_zero_when_one_strategy_dominates_every_block() -> None:
    rng = np.random.default_rng(6)
    matrix = rng.normal(0.0, 0.01, size=(320, 30))
    matrix[:, 17] = rng.normal(0.01, 0.005, size=320)  # Sharpe ~2 per period, everywhere
    result = pbo_cscv(matrix, n_blocks=16)
    assert result.pbo == 0.0
    # OOS rank N of N everywhere: omega = N / (N + 1), logit = ln(N).
    np.testing.assert_allclose(result.logits, math.log(30), rtol=1e-12)
    assert result.prob_oos_loss == 0.0


def test_pbo_is_one_when_in_sample_winners_are_built_to_lose() -> None:
    # One strategy per way of choosing 4 of 8 blocks: it earns in those blocks and loses in
    # the others. In every split the IS winner is the strategy built for exactly that IS set,
    # and out of sample it loses in every block: the worst OOS rank, always.
    n_blocks, block_len = 8, 20
    combos = list(itertools.combinations(range(n_blocks), n_blocks // 2))
    rng = np.random.default_rng(8)
    matrix = rng.normal(0.0, 0.001, size=(n_blocks * block_len, len(combos)))
    for j, good_blocks in enumerate(combos):
        for b in range(n_blocks):
            matrix[b * block_len : (b + 1) * block_len, j] += 0.01 if b in good_blocks else -0.01
    result = pbo_cscv(matrix, n_blocks=n_blocks)
    assert result.pbo == 1.0
    assert result.degradation_slope < 0.0 or math.isnan(result.degradation_slope)
    assert result.prob_oos_loss == 1.0


def test_pbo_of_pure_noise_is_near_one_half() -> None:
    values = [
        pbo_cscv(np.random.default_rng(seed).normal(0.0, 0.01, size=(480, 50)), 8).pbo
        for seed in range(6)
    ]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert 0.2 <= float(np.mean(values)) <= 0.8


def test_pbo_is_deterministic_and_read_only() -> None:
    matrix = np.random.default_rng(9).normal(0.0, 0.01, size=(200, 12))
    first, second = pbo_cscv(matrix, 8), pbo_cscv(matrix.copy(), 8)
    assert first.pbo == second.pbo
    assert first.logits.tobytes() == second.logits.tobytes()
    with pytest.raises(ValueError, match="read-only"):
        first.logits[0] = 0.0
    with pytest.raises(AttributeError):
        first.pbo = 0.5  # type: ignore[misc]


def test_pbo_accepts_a_dataframe() -> None:
    matrix = np.random.default_rng(10).normal(0.0, 0.01, size=(100, 5))
    expected = pbo_cscv(matrix, 4).logits
    np.testing.assert_array_equal(pbo_cscv(pd.DataFrame(matrix), 4).logits, expected)


@pytest.mark.parametrize(
    ("matrix", "n_blocks", "message"),
    [
        pytest.param(np.zeros((64, 3)), 7, "even", id="odd_blocks"),
        pytest.param(np.zeros((64, 3)), 0, "even", id="zero_blocks"),
        pytest.param(np.zeros((64, 3)), 26, "too many", id="too_many_blocks"),
        pytest.param(np.zeros((64, 3)), True, "integer", id="bool_blocks"),
        pytest.param(np.zeros((64, 3)), 4.0, "integer", id="float_blocks"),
        pytest.param(np.zeros(64), 4, "2-D", id="one_dimensional"),
        pytest.param(np.zeros((64, 1)), 4, "at least 2 columns", id="one_strategy"),
        pytest.param(np.zeros((7, 3)), 8, "fewer than n_blocks", id="fewer_rows_than_blocks"),
        pytest.param(np.zeros((3, 3)), 2, "single row", id="one_row_per_half"),
        pytest.param(np.full((64, 3), NAN), 4, "NaN", id="nan"),
        pytest.param(np.full((64, 3), math.inf), 4, "infinite", id="inf"),
    ],
)
def test_pbo_rejects_bad_input(matrix: NDArray[np.float64], n_blocks: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pbo_cscv(matrix, n_blocks=n_blocks)


@PROPERTY
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    n_blocks=st.sampled_from([2, 4, 6, 8]),
    block_len=st.integers(min_value=1, max_value=12),
    extra_rows=st.integers(min_value=0, max_value=5),
    n_strategies=st.integers(min_value=2, max_value=9),
    flat=st.lists(st.integers(min_value=0, max_value=7), max_size=4),
)
def test_pbo_in_unit_interval_and_matches_reference(
    seed: int,
    n_blocks: int,
    block_len: int,
    extra_rows: int,
    n_strategies: int,
    flat: list[int],
) -> None:
    assume(n_blocks // 2 * block_len >= 2)
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, 0.01, size=(n_blocks * block_len + extra_rows, n_strategies))
    for block in flat:  # strategies that did not trade during a block
        if block < n_blocks:
            matrix[block * block_len : (block + 1) * block_len, block % n_strategies] = 0.0
    result = assert_matches_reference(matrix, n_blocks)
    assert 0.0 <= result.pbo <= 1.0
    assert np.isfinite(result.logits).all()
    bound = math.log(n_strategies)  # omega is between 1/(N+1) and N/(N+1)
    assert (np.abs(result.logits) <= bound + 1e-12).all()
