"""Statistics on daily net returns: PSR, DSR with the registry's trial count, MinTRL, PBO."""

from __future__ import annotations

import math

import numpy as np

from stratops.analytics import sharpe
from stratops.analytics.overfitting import pbo_cscv
from stratops.gates.checks.inputs import GateInputs
from stratops.gates.result import CheckResult, Family, compare, inconclusive
from stratops.model.policy import DsrCheck, MinTrackRecordCheck, PboCheck, PsrCheck

FAMILY = Family.STATISTICS
DAYS_PER_YEAR = 365


def psr(inputs: GateInputs, check: PsrCheck) -> CheckResult:
    moments = sharpe.sample_moments(inputs.daily)
    if not math.isfinite(moments.sharpe):
        return inconclusive("psr", FAMILY, check.required, "Sharpe ratio undefined")
    benchmark = check.benchmark / math.sqrt(DAYS_PER_YEAR)
    value = float(
        sharpe.probabilistic_sharpe_ratio(
            moments.sharpe, moments.n_obs, moments.skew, moments.kurtosis, benchmark
        )
    )
    return compare(
        "psr",
        FAMILY,
        check.required,
        value,
        ">=",
        check.min,
        f"P(SR > {check.benchmark:g})",
        details={"sharpe_annual": moments.sharpe * math.sqrt(DAYS_PER_YEAR), "days": moments.n_obs},
    )


def trial_count(inputs: GateInputs) -> int:
    """The larger of what the bundle declares, its trial columns and what the registry counted."""
    counts = [inputs.evidence.metadata.trials, int(inputs.trial_matrix.shape[1])]
    if inputs.context.registry_trials is not None:
        counts.append(inputs.context.registry_trials)
    return max(counts)


def dsr(inputs: GateInputs, check: DsrCheck) -> CheckResult:
    moments = sharpe.sample_moments(inputs.daily)
    trials = inputs.trial_matrix
    if not math.isfinite(moments.sharpe):
        return inconclusive("dsr", FAMILY, check.required, "Sharpe ratio undefined")
    if trials.shape[1] < 2:
        return inconclusive("dsr", FAMILY, check.required, "fewer than 2 trials in the evidence")
    trial_sharpes = np.asarray(sharpe.per_period_sharpe(trials), dtype=np.float64)
    sr_variance = float(np.var(trial_sharpes[np.isfinite(trial_sharpes)], ddof=1))
    n_trials = trial_count(inputs)
    value = float(
        sharpe.deflated_sharpe_ratio(
            moments.sharpe, moments.n_obs, moments.skew, moments.kurtosis, sr_variance, n_trials
        )
    )
    return compare(
        "dsr",
        FAMILY,
        check.required,
        value,
        ">=",
        check.min,
        f"deflated P(SR) over {n_trials} trials",
        details={"n_trials": float(n_trials), "sr_variance": sr_variance},
    )


def min_track_record(inputs: GateInputs, check: MinTrackRecordCheck) -> CheckResult:
    moments = sharpe.sample_moments(inputs.daily)
    if not math.isfinite(moments.sharpe):
        return inconclusive("min_track_record", FAMILY, check.required, "Sharpe ratio undefined")
    required_days = float(
        sharpe.min_track_record_length(
            moments.sharpe, moments.skew, moments.kurtosis, confidence=check.confidence
        )
    )
    return compare(
        "min_track_record",
        FAMILY,
        check.required,
        float(moments.n_obs),
        ">=",
        required_days,
        f"days of track record vs MinTRL at {check.confidence:g}",
    )


def pbo(inputs: GateInputs, check: PboCheck) -> CheckResult:
    trials = inputs.trial_matrix
    if trials.shape[1] < 2:
        return inconclusive("pbo", FAMILY, check.required, "fewer than 2 trials in the evidence")
    if trials.shape[0] < check.blocks * 2:
        return inconclusive(
            "pbo", FAMILY, check.required, f"fewer than {check.blocks * 2} days of trials"
        )
    result = pbo_cscv(trials, n_blocks=check.blocks)
    return compare(
        "pbo",
        FAMILY,
        check.required,
        float(result.pbo),
        "<=",
        check.max,
        f"P(overfit) over {result.n_combinations} splits",
        details={"combinations": float(result.n_combinations), "trials": float(trials.shape[1])},
    )
