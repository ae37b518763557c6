"""Stage rules: paper → canary → live, time in stage, a passed canary before live."""

from __future__ import annotations

from stratops.gates.checks.inputs import GateInputs
from stratops.gates.result import CheckResult, CheckStatus, Family, compare, inconclusive
from stratops.model.base import STAGE_ORDER, Stage, duration_seconds, human_duration
from stratops.model.policy import CanaryAnalysisCheck, MinTimeInStageCheck, StageOrderCheck

FAMILY = Family.STAGE


def _verdict(name: str, required: bool, ok: bool, explanation: str) -> CheckResult:
    return CheckResult(
        name=name,
        family=FAMILY,
        status=CheckStatus.PASS if ok else CheckStatus.FAIL,
        required=required,
        value=None,
        comparison=None,
        threshold=None,
        explanation=explanation,
    )


def legal_transition(current: Stage | None, target: Stage, retired: bool) -> tuple[bool, str]:
    """Whether ``current → target`` is a promotion the desk allows, and why."""
    source = "retired" if retired and current is None else (current or "nowhere")
    if target is Stage.PAPER:
        ok = current is None
        return ok, f"{source} → paper" + ("" if ok else ": already past paper")
    expected = STAGE_ORDER[STAGE_ORDER.index(target) - 1]
    if current is expected:
        return True, f"{current.value} → {target.value}"
    hint = " (a retired strategy comes back through paper)" if retired else ""
    return (
        False,
        f"{source} → {target.value} skips or reverses a stage: needs {expected.value}{hint}",
    )


def stage_order(inputs: GateInputs, check: StageOrderCheck) -> CheckResult:
    context = inputs.context
    ok, why = legal_transition(context.current_stage, context.target_stage, context.retired)
    return _verdict("stage_order", check.required, ok, why)


def min_time_in_stage(inputs: GateInputs, check: MinTimeInStageCheck) -> CheckResult:
    seconds = inputs.context.seconds_in_stage()
    if seconds is None:
        return inconclusive(
            "min_time_in_stage",
            FAMILY,
            check.required,
            "unknown when the version entered its stage",
        )
    needed = duration_seconds(check.min_duration)
    result = compare(
        "min_time_in_stage", FAMILY, check.required, seconds / 3600, ">=", needed / 3600, "hours"
    )
    verb = "" if result.status is CheckStatus.PASS else "not "
    return result.model_copy(
        update={
            "explanation": f"time in current stage {human_duration(seconds)} "
            f"{verb}>= {human_duration(needed)}"
        }
    )


def canary_analysis(inputs: GateInputs, check: CanaryAnalysisCheck) -> CheckResult:
    outcome = inputs.context.canary_analysis
    if outcome is None:
        return inconclusive(
            "canary_analysis", FAMILY, check.required, "no canary analysis for this version yet"
        )
    return _verdict(
        "canary_analysis", check.required, outcome == "passed", f"canary analysis {outcome}"
    )
