"""Stage rules: paper → canary → live, time in stage, a passed canary before live."""

from __future__ import annotations

from stratops.gates.checks.inputs import GateInputs
from stratops.gates.result import CheckResult, CheckStatus, Family, compare, inconclusive
from stratops.model.base import STAGE_ORDER, Stage, duration_seconds, human_duration
from stratops.model.canary import CanaryAnalysisRecord
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
    """A passed canary analysis of this version, whose stored run matches its digest."""
    context = inputs.context
    outcome = context.canary_analysis
    if outcome is None:
        return inconclusive(
            "canary_analysis", FAMILY, check.required, "no canary analysis for this version yet"
        )
    if isinstance(outcome, str):
        return _verdict(
            "canary_analysis", check.required, outcome == "passed", f"canary analysis {outcome}"
        )
    ok, why = _trusted(outcome, context.strategy, context.version)
    return _verdict("canary_analysis", check.required, ok, why)


def _trusted(record: CanaryAnalysisRecord, strategy: str, version: int) -> tuple[bool, str]:
    """Whether the stored analysis is intact, of this version, and passed; and why."""
    run = f"canary analysis run {record.run_id}"
    if record.problem is not None or record.stored_digest is None:
        return False, f"{run} cannot be read: {record.problem}"
    if record.stored_digest != record.recorded_digest:
        return False, (
            f"{run} does not match its digest: the version recorded sha256 "
            f"{record.recorded_digest[:12]}…, the stored run hashes {record.stored_digest[:12]}… "
            "(tampered or corrupted)"
        )
    if (record.strategy, record.version) != (strategy, version):
        return False, f"{run} is of {record.strategy} v{record.version}, not {strategy} v{version}"
    if record.phase != "passed":
        return False, f"canary analysis {record.phase}: {record.reason}"
    return True, f"canary analysis passed (sha256 {record.recorded_digest[:12]}…): {record.reason}"
