"""Where the controller keeps each canary's analysis run between ticks.

One JSON file per run, ``<folder>/<strategy>.v<version>.step<step>.json``, holding the
:class:`~stratops.canary.AnalysisRun` as the judge returned it (its digested form), written
atomically and only when it changed; beside it, once a final run is logged to the registry,
``.logged`` holds its digest and the MLflow run id, once the ramp pull request of a passed step
is open ``.ramp`` holds the step's digest and the pull request's number, and
``<strategy>.v<version>.control`` what the on-call person asked (pause, abort). A canary
ramped through steps has one run per step: the passed runs of the earlier steps stay. A live
deployment's guardrails are kept as ``<strategy>.v<version>.live.json`` (never logged to the
registry: the version's passed canary run stays what the live gate reads). The judge measures
only the windows after the stored run's last, so a restarted controller carries on where it
stopped.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from stratops.canary import AnalysisRun, RunPhase
from stratops.files import replace_file
from stratops.model.problems import InvalidDocumentError, Problem


class CanaryRequest(BaseModel):
    """A person's request about a canary: who, why, when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    by: str = Field(min_length=1)
    reason: str
    at: AwareDatetime


class CanaryControl(BaseModel):
    """What the on-call person asked of one canary version (``stratops canary abort|pause``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    paused: CanaryRequest | None = Field(None, description="Not judged until resumed.")
    aborted: CanaryRequest | None = Field(None, description="Fails the analysis: rollback.")


class AnalysisStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, strategy: str, version: int, step: int = 0) -> Path:
        return self.folder / f"{strategy}.v{version}.step{step}.json"

    def live_path(self, strategy: str, version: int) -> Path:
        return self.folder / f"{strategy}.v{version}.live.json"

    def load_live(self, strategy: str, version: int) -> AnalysisRun | None:
        """The stored guardrails run of a live version; None when there is none (see
        :meth:`load` for the error)."""
        return self._read(self.live_path(strategy, version))

    def passed_template(self, strategy: str, version: int) -> str | None:
        """The template the version passed its canary analysis with (its last step's run)."""
        runs = self.runs(strategy)
        passed = [r for r in runs if r.version == version and r.phase is RunPhase.PASSED]
        return passed[-1].template if passed else None

    def load(self, strategy: str, version: int, step: int = 0) -> AnalysisRun | None:
        """The stored run; None when there is none.

        Raises
        ------
        InvalidDocumentError
            ``analysis.invalid`` naming the file, when it holds no analysis run.
        """
        return self._read(self.path(strategy, version, step))

    def save(self, run: AnalysisRun) -> None:
        path = (
            self.live_path(run.strategy, run.version)
            if run.live
            else self.path(run.strategy, run.version, run.step)
        )
        text = json.dumps(run.to_storage(), indent=1, sort_keys=True) + "\n"
        if path.exists() and path.read_text(encoding="utf-8") == text:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, text, durable=True)

    def logged(self, run: AnalysisRun) -> bool:
        """True once ``run`` (this digest) was logged to the registry on its version."""
        marker = self._marker(run)
        return marker.exists() and marker.read_text(encoding="utf-8").split()[0] == run.digest

    def mark_logged(self, run: AnalysisRun, registry_run: str) -> None:
        replace_file(self._marker(run), f"{run.digest} {registry_run}\n", durable=True)

    def _marker(self, run: AnalysisRun) -> Path:
        return self.path(run.strategy, run.version, run.step).with_suffix(".logged")

    def ramped(self, strategy: str, version: int, step: int) -> tuple[str, int] | None:
        """(digest, pull request) of the ramp opened after ``step`` passed; None before."""
        marker = self._ramp_marker(strategy, version, step)
        try:
            digest, number = marker.read_text(encoding="utf-8").split()
        except (FileNotFoundError, ValueError):
            return None  # none, or torn by a crash: the journalled intent writes it again
        return digest, int(number)

    def mark_ramped(
        self, strategy: str, version: int, step: int, digest: str, pull_request: int
    ) -> None:
        marker = self._ramp_marker(strategy, version, step)
        replace_file(marker, f"{digest} {pull_request}\n", durable=True)

    def _ramp_marker(self, strategy: str, version: int, step: int) -> Path:
        return self.path(strategy, version, step).with_suffix(".ramp")

    def control(self, strategy: str, version: int) -> CanaryControl:
        """The requests about a canary version; none when nobody asked anything."""
        path = self._control(strategy, version)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return CanaryControl()
        try:
            return CanaryControl.model_validate_json(text)
        except ValidationError as exc:
            problem = Problem(
                file=str(path),
                message=f"not a canary control file ({exc}); rerun stratops canary pause/abort",
                code="analysis.control_invalid",
            )
            raise InvalidDocumentError([problem]) from exc

    def save_control(self, strategy: str, version: int, control: CanaryControl) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._control(strategy, version)
        replace_file(path, control.model_dump_json(indent=1) + "\n", durable=True)

    def _control(self, strategy: str, version: int) -> Path:
        return self.folder / f"{strategy}.v{version}.control"

    def runs(self, strategy: str | None = None) -> list[AnalysisRun]:
        """Every stored canary run (of ``strategy``), by strategy, version and step."""
        return self._runs(f"{strategy or '*'}.v*.step*.json")

    def live_runs(self, strategy: str | None = None) -> list[AnalysisRun]:
        """Every stored live guardrails run (of ``strategy``), by strategy and version."""
        return self._runs(f"{strategy or '*'}.v*.live.json")

    def _runs(self, pattern: str) -> list[AnalysisRun]:
        found = [self._read(path) for path in self.folder.glob(pattern)]
        runs = [run for run in found if run is not None]
        return sorted(runs, key=lambda run: (run.strategy, run.version, run.step))

    @staticmethod
    def _read(path: Path) -> AnalysisRun | None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return AnalysisRun.from_storage(json.loads(text))
        except (ValueError, ValidationError) as exc:
            problem = Problem(
                file=str(path),
                message=f"not an analysis run ({exc}); delete it to start the analysis over",
                code="analysis.invalid",
            )
            raise InvalidDocumentError([problem]) from exc
