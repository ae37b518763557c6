"""The gate report: canonical JSON, its digest, and markdown for a pull request."""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from stratops.gates.result import CheckResult, CheckStatus
from stratops.model.base import Stage, StrategyType
from stratops.model.canonical import canonical_json, sha256_hex

STATUS_MARK = {CheckStatus.PASS: "✅", CheckStatus.INCONCLUSIVE: "⚠️", CheckStatus.FAIL: "❌"}


class ReportInputs(BaseModel):
    """The sha256 of every input, so a reader can tell which bytes were judged."""

    model_config = ConfigDict(frozen=True)

    evidence_digest: str
    evidence_files: dict[str, str]
    policy: str
    policy_digest: str
    context_digest: str


class GateReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    engine_version: str
    strategy: str
    version: int
    strategy_type: StrategyType
    target_stage: Stage
    allocation: float
    as_of: str
    inputs: ReportInputs
    verdict: Literal["pass", "fail"]
    checks: list[CheckResult]
    execution: dict[str, float | str] | None = Field(
        None,
        description="The execution parameters registered with the version (those it sets); "
        "None: the engine's defaults. Digested only when given.",
    )

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @cached_property
    def canonical(self) -> bytes:
        """The digested bytes: sorted keys, fixed significant digits, no wall-clock time."""
        unset = {"execution"} if self.execution is None else set()
        return canonical_json(self.model_dump(mode="json", exclude=unset))

    @cached_property
    def digest(self) -> str:
        return sha256_hex(self.canonical)

    def to_json(self) -> dict[str, object]:
        """The report with its digest, for ``--output json``."""
        return {"digest": self.digest, "report": self.model_dump(mode="json")}

    def markdown(self) -> str:
        """A table a reviewer reads in ten seconds: blocking checks first."""
        verdict = "✅ PASS" if self.passed else "❌ FAIL"
        blocking = sum(result.blocks for result in self.checks)
        lines = [
            f"### Gates: {self.strategy} v{self.version} → {self.target_stage.value}: {verdict}",
            "",
            f"{len(self.checks)} checks, {blocking} blocking · allocation "
            f"{self.allocation:,.0f} · as of {self.as_of} · policy `{self.inputs.policy}`",
            "",
        ]
        if self.execution:
            given = ", ".join(f"`{key}` {value}" for key, value in self.execution.items())
            lines += [
                f"Execution registered with the version: {given} (the engine's defaults "
                "otherwise); its orders pay these, its evidence what its backtest simulated.",
                "",
            ]
        if not self.checks:
            lines.append(
                f"The policy names no check for {self.target_stage.value}: this promotion runs "
                "no gate and needs only the policy's approvals."
            )
        else:
            lines += ["| | check | value | threshold | why |", "|---|---|---|---|---|"]
        ordered = sorted(
            self.checks,
            key=lambda r: (not r.blocks, -r.status.rank, r.family.value, r.name),
        )
        for result in ordered:
            value = "-" if result.value is None else f"{result.value:.4g}"
            threshold = (
                "-" if result.threshold is None else f"{result.comparison} {result.threshold:.4g}"
            )
            optional = "" if result.required else " (advisory)"
            lines.append(
                f"| {STATUS_MARK[result.status]} | `{result.name}`{optional} | {value} | "
                f"{threshold} | {result.explanation.replace('|', '/')} |"
            )
        lines += [
            "",
            f"<sub>report `{self.digest}` · evidence `{self.inputs.evidence_digest}` · "
            f"policy `{self.inputs.policy_digest[:12]}` · engine {self.engine_version}</sub>",
        ]
        return "\n".join(lines) + "\n"
