"""A build's result as a JSON document (schemas/build.schema.json) and as text for people."""

from __future__ import annotations

from typing import Any

from elfship.builder.diagnose import Diagnosis
from elfship.builder.pipeline import ArtifactResult, BuildResult
from elfship.builder.verify import TargetVerdict
from elfship.check.model import Severity
from elfship.report.check_report import finding_json
from elfship.report.units import human_size


def to_document(result: BuildResult) -> dict[str, Any]:
    plan = result.plan
    return {
        "command": "build",
        "ok": result.ok,
        "strategy": plan.strategy.value,
        "why": plan.why,
        "triple": plan.triple,
        "glibc_pin": plan.glibc_pin,
        "profile": plan.profile,
        "targets": list(result.targets),
        "cargo": {
            "argv": list(plan.argv),
            "env": plan.env_dict,
            "command_line": plan.command_line(),
            "ok": result.cargo_ok,
            "seconds": round(result.cargo_seconds, 3),
        },
        "notes": list(plan.notes),
        "native_dependencies": [
            {
                "crate": dep.crate,
                "version": dep.version,
                "bundled": dep.bundled,
                "env": dict(dep.env),
                "severity": dep.severity,
                "advice": dep.advice,
            }
            for dep in result.native
        ],
        "artifacts": [_artifact(a) for a in result.artifacts],
        "diagnoses": [_diagnosis(d) for d in result.diagnoses],
    }


def _artifact(artifact: ArtifactResult) -> dict[str, Any]:
    return {
        "name": artifact.name,
        "cargo_path": str(artifact.cargo_path),
        "path": None if artifact.path is None else str(artifact.path),
        "ok": artifact.ok,
        "size": artifact.size,
        "size_after_strip": artifact.size_after_strip,
        "findings": [finding_json(f, with_evidence=False) for f in artifact.findings],
        "checks": [_verdict(v) for v in artifact.verdicts],
    }


def _verdict(verdict: TargetVerdict) -> dict[str, Any]:
    return {
        "target": verdict.target,
        "verdict": verdict.verdict,
        "findings": [finding_json(f, with_evidence=False) for f in verdict.findings],
    }


def _diagnosis(diagnosis: Diagnosis) -> dict[str, Any]:
    return {
        "id": diagnosis.id,
        "cause": diagnosis.cause,
        "fix": diagnosis.fix,
        "evidence": diagnosis.evidence,
    }


def render_text(result: BuildResult) -> list[str]:
    """The summary printed after cargo's own output."""
    if not result.cargo_ok:
        return _render_failure(result)
    lines: list[str] = []
    if not result.artifacts:
        lines.append("cargo built no executable (nothing to check or copy)")
    for artifact in result.artifacts:
        lines += _render_artifact(artifact, result)
    failing = sorted({v.target for a in result.artifacts for v in a.verdicts if v.verdict == "fails"})
    if failing:
        lines.append(f"build failed: the binary would not run on {', '.join(failing)} (nothing delivered)")
    elif not result.ok:
        lines.append("build failed: see the errors above (nothing delivered)")
    return lines


def _render_failure(result: BuildResult) -> list[str]:
    if not result.diagnoses:
        return [
            "build failed: cargo exited with an error elfship does not recognise (see cargo's output above)"
        ]
    lines = ["build failed:"]
    for diagnosis in result.diagnoses:
        lines += [
            f"  cause: {diagnosis.cause}",
            f"    fix: {diagnosis.fix}",
            f"    (from: {diagnosis.evidence})",
        ]
    return lines


def _render_artifact(artifact: ArtifactResult, result: BuildResult) -> list[str]:
    size = human_size(artifact.size)
    if artifact.size_after_strip is not None:
        size += f" -> {human_size(artifact.size_after_strip)} stripped"
    where = str(artifact.path) if artifact.path else f"{artifact.cargo_path} (not delivered)"
    lines = [f"{artifact.name}: {where} [{size}]"]
    if not result.targets:
        lines.append("  no --for target given: not checked against any release")
    own_kinds = {finding.kind for finding in artifact.findings}  # said once below, with more detail
    for verdict in artifact.verdicts:
        lines.append(f"  {verdict.target}: {verdict.verdict}")
        for finding in verdict.findings:
            if finding.severity is not Severity.INFO and finding.kind not in own_kinds:
                lines.append(
                    f"    {finding.severity.value}: {finding.message}"
                    + (f" (fix: {finding.fix})" if finding.fix else "")
                )
    for finding in artifact.findings:
        lines.append(
            f"  {finding.severity.value}: {finding.message}"
            + (f" (fix: {finding.fix})" if finding.fix else "")
        )
    return lines
