"""Render check results: a detailed list for one target, a matrix for several, and the JSON contract."""

from __future__ import annotations

from elfship.check.model import RUN_TIMED_OUT, CheckResult, Finding, Severity
from elfship.report import jsonout
from elfship.report.table import table_lines

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from typing import Any

    from elfship.check.batch import CheckBatch

MARK = {
    Severity.ERROR: "error",
    Severity.UNKNOWN: "unknown",
    Severity.WARNING: "warning",
    Severity.INFO: "info",
}


def finding_json(finding: Finding, *, with_evidence: bool = True) -> dict[str, Any]:
    """A finding in every JSON document (check's, build's): its evidence flattened in beside it (build's
    documents carry none)."""
    document = {
        "kind": finding.kind,
        "severity": finding.severity.value,
        "message": finding.message,
        "fix": finding.fix,
    }
    if with_evidence:
        document.update((k, v) for k, v in finding.evidence.items() if k not in document)
    return document


def result_json(result: CheckResult) -> dict[str, Any]:
    document: dict[str, Any] = {
        "path": result.path,
        "target": result.target,
        "arch": result.arch,
        "verdict": result.verdict,
        "findings": [finding_json(f) for f in result.findings],
    }
    if result.placed_at is not None:
        document["placed_at"] = result.placed_at
    if result.run is not None:
        document["run"] = {
            "started": result.run.started,
            "exit_code": result.run.exit_code,
            "timed_out": result.run.timed_out,
            "stderr": result.run.stderr_head,
            "method": result.run.method,
            "emulator": result.run.emulator or None,
            "status": result.run.status,
            "prediction_held": result.prediction_held,
        }
    return document


def prediction_error(result: CheckResult) -> str:
    """The one line for a --run that contradicted the prediction (exit 1)."""
    assert result.run is not None
    really = "started" if result.run.started else "did not start"
    return (
        f"{result.path} on {result.target}: predicted {result.verdict.upper()} but it {really} "
        f"(fix: please report this with `elfship check --json` output)"
    )


def short_reason(finding: Finding) -> str:
    """A few words for a matrix cell."""
    ev = finding.evidence
    if finding.kind in ("version-too-new", "private-version"):
        versions = ev.get("versions") or ["?"]
        return f"{versions[0]} ({ev.get('library')})"
    if finding.kind in ("library-not-in-base", "library-missing"):
        return f"no {ev.get('library')}"
    if finding.kind == "libc-mismatch":
        return f"{ev.get('binary_libc')} on {ev.get('target_libc')}"
    if finding.kind == "wrong-architecture":
        return f"{ev.get('machine')} binary"
    if finding.kind == "interpreter-missing":
        return f"no {ev.get('interpreter')}"
    if finding.kind == "kernel-too-old":
        return f"kernel < {ev.get('min_kernel')}"
    return finding.kind


def cell(result: CheckResult) -> str:
    if result.verdict == "unknown":
        unknown = [f for f in result.findings if f.severity is Severity.UNKNOWN]
        more = f" +{len(unknown) - 1}" if len(unknown) > 1 else ""
        text = f"unknown: {unknown[0].evidence.get('library') or unknown[0].kind}?{more}"
    elif result.runs:
        warned = any(f.severity is Severity.WARNING for f in result.findings)
        text = "runs (warnings)" if warned else "runs"
    else:
        errors = result.errors
        more = f" +{len(errors) - 1}" if len(errors) > 1 else ""
        text = f"fails: {short_reason(errors[0])}{more}"
    if result.run is not None:
        held = result.prediction_held
        text += " [run timed out]" if held is None else " [confirmed]" if held else " [RUN DISAGREES]"
    return text


def details(result: CheckResult, *, show_info: bool = True) -> list[str]:
    lines = [f"{result.path} on {_label(result)}: {result.verdict.upper()}"]
    if result.placed_at is not None:
        lines.append(f"  placed at {result.placed_at} inside the root ($ORIGIN is there; --at to choose)")
    for finding in result.findings:
        if finding.severity is Severity.INFO and not show_info:
            continue
        lines.append(f"  {MARK[finding.severity]:<8} {finding.message}")
    fixes = list(dict.fromkeys(f.fix for f in result.findings if f.fix and f.severity is not Severity.INFO))
    if fixes:
        lines.append("  ways out:")
        lines.extend(f"    - {fix}" for fix in fixes)
    if result.run is not None:
        lines.extend(_run_lines(result))
    return lines


def _run_lines(result: CheckResult) -> list[str]:
    run = result.run
    assert run is not None
    if run.status == RUN_TIMED_OUT:
        what = "timed out before it was shown to have loaded everything"
    elif run.timed_out:
        what = "still running at the timeout, everything loaded (it started)"
    elif run.started:
        what = f"started, exited with {run.exit_code}"
    else:
        what = f"did not start (exit {run.exit_code})"
    held = {None: "prediction unconfirmed", True: "prediction held"}.get(
        result.prediction_held, "PREDICTION WRONG: please report this"
    )
    how = f"{run.method}, through {run.emulator}" if run.emulator else run.method
    lines = [f"  run ({how}): {what}; {held}"]
    lines.extend(f"    | {line}" for line in run.stderr_head.splitlines())
    return lines


def _label(result: CheckResult) -> str:
    """debian:12 (x86_64): every answer names the architecture it is for."""
    return f"{result.target} ({result.arch})" if result.arch else result.target


def matrix(results: list[CheckResult]) -> list[str]:
    paths = list(dict.fromkeys(r.path for r in results))
    arches = {r.arch for r in results}
    # One architecture: said once above the table; several: each column names its own.
    column = (lambda r: r.target) if len(arches) == 1 else (lambda r: f"{r.target}/{r.arch or '?'}")
    targets = list(dict.fromkeys(column(r) for r in results))
    table = {(r.path, column(r)): cell(r) for r in results}
    heading = [f"architecture: {next(iter(arches)) or 'unknown'}"] if len(arches) == 1 else []
    if len(targets) > 4 and len(targets) > len(paths):
        # Many targets, few files: one row per target reads better than a very wide table.
        rows = [["", *paths]] + [[t, *(table.get((p, t), "-") for p in paths)] for t in targets]
    else:
        rows = [["", *targets]] + [[p, *(table.get((p, t), "-") for t in targets)] for p in paths]
    return heading + table_lines(rows)


def to_text(results: list[CheckResult]) -> str:
    if len(results) == 1:
        return "\n".join(details(results[0]))
    lines = matrix(results)
    placed = dict.fromkeys((r.path, r.placed_at) for r in results if r.placed_at is not None)
    lines.extend(f"{path}: placed at {at} inside the root ($ORIGIN is there)" for path, at in placed)
    failing = [r for r in results if not r.runs or (r.run is not None and r.prediction_held is not True)]
    for result in failing:
        lines.append("")
        lines.extend(details(result, show_info=False))
    return "\n".join(lines)


def render_batch(batch: CheckBatch, output_format: str) -> str:
    """What `elfship check` writes to stdout for a batch, in one of report.formats.CHECK_FORMATS (newlines
    included)."""
    results, errors = list(batch.results), [{"path": p.path, "error": p.problem} for p in batch.problems]
    if output_format == "junit":
        from elfship.report.check_junit import to_junit  # xml.etree: only junit pays for it

        return to_junit(results, errors)
    if output_format == "github":
        from elfship.report.check_github import to_github

        annotations = to_github(results, errors)
        return f"{annotations}\n" if annotations else ""
    if output_format == "json":
        return jsonout.dumps({"results": [result_json(r) for r in results], "errors": errors})
    return f"{to_text(results)}\n" if results else ""


def error_lines(batch: CheckBatch, output_format: str) -> list[str]:
    """The stderr lines for a batch: files that could not be checked (JSON carries those itself) and every
    prediction a --run contradicted."""
    lines = [] if output_format == "json" else [f"elfship: error: {p.line}" for p in batch.problems]
    return lines + [f"elfship: error: {prediction_error(r)}" for r in batch.contradicted]
