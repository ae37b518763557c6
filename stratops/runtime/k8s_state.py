"""Pure reading of Deployment objects: drift, state, and the update that converges them.

State of a managed Deployment, first match wins:

1. ``metadata.deletionTimestamp`` set → HALTED, "being removed" (foreground deletion waits
   for the pods to stop; the planner neither restarts nor re-creates it meanwhile);
2. drift → FAILED, ``drift: ...``: the replica count is not 1 (0 when a halt stopped it), a stratops
   label differs from the stored spec, the owned pod template fields or the stored spec were
   edited (their digest differs from the one recorded at deploy), or the ConfigMap is missing
   or edited. The planner answers with a RESTART, and :func:`plan_update` rewrites the object;
3. halt annotations → HALTED, with the mode the pod acknowledged (``run.json`` in the
   telemetry bucket) and its positions; a halt that stopped the pod says why; a running pod
   that has not acknowledged its halt within ``ack_after`` → FAILED, and the RESTART the
   planner answers with stops it (see :func:`unacknowledged`);
4. no available pod for longer than ``unavailable_after`` (counted from the later of the
   ``Available=False`` transition and the last rollout stratops made) → FAILED; the restart
   rolls the pod. A pod still starting is RUNNING, with ``0/1 available`` in the detail;
5. otherwise RUNNING.

A halt holds while the version stays the same: a deploy of the halted version (the RESTART the
planner emits when someone scales a stopped deployment back up) restores the halt from the
stored spec and annotations instead of resuming trading that was stopped on purpose; the
control ConfigMap stays, so a restarted pod applies the same command (once per id).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from stratops.model.deployment import DeploymentSpec, DeploymentState, DeploymentStatus
from stratops.model.strategy import HaltBehaviour
from stratops.paper.control import HaltCommand, ProcessStatus
from stratops.runtime.k8s_api import Json
from stratops.runtime.k8s_objects import (
    CONFIG_DIGEST,
    DEPLOY_REASON,
    DEPLOYED_AT,
    DEPLOYED_BY,
    HALT_COMMAND,
    HALT_MODE,
    HALT_REASON,
    HALT_STOPPED,
    HALTED_AT,
    HALTED_BY,
    PREFIX,
    RESTARTED_AT,
    SPEC_ANNOTATION,
    STAGE_KEY,
    STRATEGY_KEY,
    TEMPLATE_DIGEST,
    VERSION_KEY,
    config_digest,
    halt_annotations,
    halt_stops,
    template_digest,
    with_halt,
)

OWNED_SPEC_FIELDS = ("replicas", "template", "strategy", "progressDeadlineSeconds")


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return _metadata(obj).get("annotations") or {}


def labels_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return _metadata(obj).get("labels") or {}


def _template(deployment: Mapping[str, Any]) -> Mapping[str, Any]:
    return (deployment.get("spec") or {}).get("template") or {}


def _template_annotations(deployment: Mapping[str, Any]) -> Mapping[str, str]:
    return (_template(deployment).get("metadata") or {}).get("annotations") or {}


def _time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def stored_spec(deployment: Mapping[str, Any]) -> DeploymentSpec | None:
    """The spec recorded at deploy, None when the annotation is missing or unreadable."""
    raw = annotations_of(deployment).get(SPEC_ANNOTATION)
    if raw is None:
        return None
    try:
        return DeploymentSpec.model_validate_json(raw)
    except ValidationError:
        return None


def is_halted(deployment: Mapping[str, Any]) -> bool:
    return HALTED_AT in annotations_of(deployment)


def is_stopped(deployment: Mapping[str, Any]) -> bool:
    """Halted, and the halt scaled the pod to zero."""
    return halt_stops(annotations_of(deployment))


def halt_command(deployment: Mapping[str, Any]) -> HaltCommand | None:
    """The command of the halt in force, rebuilt from the annotations; None when not halted
    through the control channel."""
    notes = annotations_of(deployment)
    if HALTED_AT not in notes or not notes.get(HALT_COMMAND):
        return None
    try:
        mode = HaltBehaviour(notes.get(HALT_MODE, ""))
    except ValueError:
        return None
    return HaltCommand(
        mode=mode,
        id=notes[HALT_COMMAND],
        by=notes.get(HALTED_BY, ""),
        reason=notes.get(HALT_REASON, ""),
    )


def unacknowledged(
    deployment: Mapping[str, Any],
    reported: ProcessStatus | None,
    *,
    now: datetime,
    ack_after: timedelta | None,
) -> str | None:
    """Why a running halted pod must be stopped: it did not acknowledge its halt in time."""
    command = halt_command(deployment)
    halted_at = _time(annotations_of(deployment).get(HALTED_AT))
    if command is None or is_stopped(deployment) or ack_after is None or halted_at is None:
        return None
    if acknowledged(reported, command) or now < halted_at + ack_after:
        return None
    return f"no acknowledgement within {ack_after.total_seconds():g}s"


def acknowledged(reported: ProcessStatus | None, command: HaltCommand) -> bool:
    """The pod reports it applied ``command``."""
    return (
        reported is not None and reported.halt is not None and reported.halt.command == command.id
    )


def replicas(deployment: Mapping[str, Any]) -> int:
    """``spec.replicas``; absent means 1, as the API server defaults it."""
    value = (deployment.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def detect_drift(deployment: Mapping[str, Any]) -> str | None:
    """What differs from what stratops deployed (``drift: ...``), None when nothing does."""
    spec = stored_spec(deployment)
    if spec is None:
        return f"drift: annotation {SPEC_ANNOTATION} is missing or unreadable"
    found = labels_of(deployment)
    for key, expected in (
        (STRATEGY_KEY, spec.strategy),
        (STAGE_KEY, spec.stage.value),
        (VERSION_KEY, str(spec.version)),
    ):
        if found.get(key) != expected:
            return f"drift: label {key} {found.get(key)!r} != {expected!r}"
    expected_replicas = 0 if is_stopped(deployment) else 1
    if replicas(deployment) != expected_replicas:
        return f"drift: replicas {replicas(deployment)} != {expected_replicas}"
    recorded = annotations_of(deployment).get(TEMPLATE_DIGEST)
    if recorded != template_digest(
        annotations_of(deployment)[SPEC_ANNOTATION], _template(deployment)
    ):
        return "drift: pod template edited (image, command, environment or service account)"
    return None


def detect_config_drift(
    deployment: Mapping[str, Any], config_map: Mapping[str, Any] | None
) -> str | None:
    """The ConfigMap is missing, or its data is not what the pod template was made for."""
    name = _metadata(deployment).get("name")
    if config_map is None:
        return f"drift: configmap {name} is missing"
    expected = _template_annotations(deployment).get(CONFIG_DIGEST)
    found = config_digest(config_map.get("data") or {})
    if found != expected:
        return f"drift: configmap {name} edited (data digest {found[:12]} != {str(expected)[:12]})"
    return None


def _condition(deployment: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    for condition in (deployment.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return dict(condition)
    return {}


def last_rollout(deployment: Mapping[str, Any]) -> datetime | None:
    """When stratops last made Kubernetes start a pod (deploy or restart)."""
    moments = [
        _time(_template_annotations(deployment).get(RESTARTED_AT)),
        _time(annotations_of(deployment).get(DEPLOYED_AT)),
    ]
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else _time(_metadata(deployment).get("creationTimestamp"))


def unavailable(deployment: Mapping[str, Any], *, now: datetime, after: timedelta) -> str | None:
    """Why the deployment has had no available pod for longer than ``after``, else None."""
    status = deployment.get("status") or {}
    if int(status.get("availableReplicas") or 0) >= 1:
        return None
    available = _condition(deployment, "Available")
    candidates = [last_rollout(deployment)]
    if available.get("status") == "False":
        candidates.append(_time(available.get("lastTransitionTime")))
    known = [moment for moment in candidates if moment is not None]
    if not known:
        return None
    since = max(known)
    if now - since <= after:
        return None
    progressing = _condition(deployment, "Progressing")
    why = (
        progressing.get("message")
        if progressing.get("reason") == "ProgressDeadlineExceeded"
        else available.get("message")
    ) or "no pod became available"
    minutes = int((now - since).total_seconds() // 60)
    return f"unavailable for {minutes}m since {since.isoformat()}: {why}"


def observe(
    deployment: Mapping[str, Any],
    config_map: Mapping[str, Any] | None,
    *,
    now: datetime,
    unavailable_after: timedelta,
    reported: ProcessStatus | None = None,
    ack_after: timedelta | None = None,
) -> DeploymentStatus | None:
    """The status of a managed Deployment; None when its stored spec is unreadable.

    ``reported``: what its pod last published in ``run.json`` (its halt, positions, progress).
    ``ack_after``: how long a halted pod has to acknowledge its halt (None: forever).
    """
    spec = stored_spec(deployment)
    if spec is None:
        return None
    notes = annotations_of(deployment)
    instance = str(_metadata(deployment).get("uid") or _metadata(deployment).get("name"))
    deployed_at = _time(notes.get(DEPLOYED_AT)) or now
    halted_at = _time(notes.get(HALTED_AT))

    def status(state: DeploymentState, since: datetime, detail: str) -> DeploymentStatus:
        return DeploymentStatus(
            spec=spec,
            state=state,
            since=since,
            instance=instance,
            detail=detail,
            halted=None if reported is None or reported.halt is None else reported.halt.mode,
            positions={} if reported is None else reported.positions,
            caught_up=reported is not None and reported.status == "caught_up",
            bars_done=None if reported is None else reported.bars_done,
        )

    if _metadata(deployment).get("deletionTimestamp"):
        return status(DeploymentState.HALTED, now, "being removed: its pods are stopping")
    drift = detect_drift(deployment) or detect_config_drift(deployment, config_map)
    if drift is not None:
        return status(DeploymentState.FAILED, halted_at or deployed_at, drift)
    if halted_at is not None:
        mode = notes.get(HALT_MODE, spec.halt.value)
        detail = f"halted ({mode}) by {notes.get(HALTED_BY)}: {notes.get(HALT_REASON)}"
        if notes.get(HALT_STOPPED):
            detail += f"; {notes[HALT_STOPPED]}"
        late = unacknowledged(deployment, reported, now=now, ack_after=ack_after)
        if late is not None:
            return status(DeploymentState.FAILED, halted_at, f"{detail}; {late}: restart stops it")
        return status(DeploymentState.HALTED, halted_at, detail)
    failing = unavailable(deployment, now=now, after=unavailable_after)
    if failing is not None:
        return status(DeploymentState.FAILED, deployed_at, failing)
    available = int((deployment.get("status") or {}).get("availableReplicas") or 0)
    detail = (
        f"deployed by {notes.get(DEPLOYED_BY)}: {notes.get(DEPLOY_REASON)} "
        f"({available}/1 available)"
    )
    return status(DeploymentState.RUNNING, deployed_at, detail)


def held_spec(current: Mapping[str, Any] | None, wanted: DeploymentSpec) -> DeploymentSpec | None:
    """The halted spec to keep when ``current`` is halted at ``wanted``'s version, else None."""
    if current is None or not is_halted(current):
        return None
    held = stored_spec(current)
    return held if held is not None and held.version == wanted.version else None


def lifts_halt(current: Mapping[str, Any] | None, wanted: DeploymentSpec) -> bool:
    """Deploying ``wanted`` over ``current`` starts a pod that must not find a halt command:
    a new Deployment, another version, or a halt lifted (see :func:`held_spec`)."""
    if current is None or is_halted(current):
        return True
    spec = stored_spec(current)
    return spec is None or spec.version != wanted.version


def keep_halt(desired: Mapping[str, Any], current: Mapping[str, Any]) -> Json:
    """``desired`` with ``current``'s halt (who halted it, why, the mode, whether it stopped)."""
    return with_halt(desired, annotations_of(current))


def converged(current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """``current`` already is ``desired``: same spec and template, no drift, same halt (and
    replicas: a halt the pod did not acknowledge stops it)."""
    return (
        annotations_of(current).get(TEMPLATE_DIGEST) == annotations_of(desired).get(TEMPLATE_DIGEST)
        and detect_drift(current) is None
        and is_halted(current) == is_halted(desired)
        and replicas(current) == replicas(desired)
        and all(labels_of(current).get(key) == value for key, value in labels_of(desired).items())
    )


def merged(current: Mapping[str, Any], desired: Mapping[str, Any]) -> Json:
    """``current`` with every field stratops owns taken from ``desired``.

    What others own survives: foreign labels and annotations, the immutable selector, and
    ``metadata.resourceVersion``, so the write is refused (409) if ``current`` is stale.
    """
    body = copy.deepcopy(dict(current))
    body.pop("status", None)
    metadata = body.setdefault("metadata", {})
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels_of(desired)}
    foreign = {k: v for k, v in annotations_of(current).items() if not k.startswith(PREFIX)}
    metadata["annotations"] = {**foreign, **annotations_of(desired)}
    spec = body.setdefault("spec", {})
    for field in OWNED_SPEC_FIELDS:
        spec[field] = copy.deepcopy(desired["spec"][field])
    spec.setdefault("selector", copy.deepcopy(desired["spec"]["selector"]))
    return body


def restart_needed(
    current: Mapping[str, Any] | None,
    desired: Mapping[str, Any],
    *,
    config_rewritten: bool,
    now: datetime,
    unavailable_after: timedelta,
) -> bool:
    """Roll the pod although its template may not change.

    Its ConfigMap was corrected while the template still points at the same data (a hand
    edit of the ConfigMap: a pod may have started with the edited environment), or it has
    had no available pod for too long (the planner's RESTART of a FAILED deployment).
    """
    if current is None:
        return False
    same_config = _template_annotations(current).get(CONFIG_DIGEST) == (
        _template_annotations(desired).get(CONFIG_DIGEST)
    )
    failing = unavailable(current, now=now, after=unavailable_after) is not None
    return (config_rewritten and same_config) or failing


def halt_update(current: Mapping[str, Any], command: HaltCommand, *, at: str) -> Json | None:
    """The body that marks ``current`` halted by ``command`` (the pod keeps running and
    applies it); None when it is halted already: a second halt keeps the first one's who and
    why, the first reason is the real cause."""
    if is_halted(current):
        return None
    body = copy.deepcopy(dict(current))
    body.pop("status", None)
    return with_halt(body, halt_annotations(command, at))


def stop_update(current: Mapping[str, Any], why: str) -> Json | None:
    """The body that scales halted ``current`` to zero, saying ``why``; None when it is."""
    if is_stopped(current) and replicas(current) == 0:
        return None
    body = copy.deepcopy(dict(current))
    body.pop("status", None)
    notes = {**annotations_of(current)}
    notes.setdefault(HALT_STOPPED, why)
    return with_halt(body, notes)
