"""`check --format github`: GitHub Actions workflow commands, one annotation per finding that matters.

`::error file=PATH,title=elfship check: TARGET::MESSAGE (fix: ...)` for each error finding (and for a file
that could not be read, and a --run that contradicted the prediction); `::warning` for each warning and each
`unknown` finding (the answer rests on a fact nobody measured: exit code 3 still fails the step, and the
annotation says why). Info findings are not annotated. Values are escaped as the Actions toolkit does, so a
hostile path or message cannot end the command early or inject another one.
"""

from __future__ import annotations

from elfship.check.model import CheckResult, Finding, Severity
from elfship.report.check_report import prediction_error

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.UNKNOWN: "warning"}


def escape_data(text: str) -> str:
    """The message part: %, CR and LF are what end or split a workflow command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value (file=, title=): also `:` and `,`, which delimit properties."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, path: str, title: str, message: str) -> str:
    return f"::{level} file={escape_property(path)},title={escape_property(title)}::{escape_data(message)}"


def _title(result: CheckResult, finding: Finding | None = None) -> str:
    where = f"{result.target} ({result.arch})" if result.arch else result.target
    prefix = "unknown on" if finding is not None and finding.severity is Severity.UNKNOWN else "on"
    kind = f" [{finding.kind}]" if finding is not None else ""
    return f"elfship check {prefix} {where}{kind}"


def _message(finding: Finding) -> str:
    return f"{finding.message} (fix: {finding.fix})" if finding.fix else finding.message


def result_lines(result: CheckResult) -> list[str]:
    lines = [
        annotation(_LEVEL[f.severity], result.path, _title(result, f), _message(f))
        for f in result.findings
        if f.severity in _LEVEL
    ]
    if result.prediction_held is False:
        lines.append(annotation("error", result.path, _title(result), prediction_error(result)))
    return lines


def to_github(results: list[CheckResult], errors: list[dict[str, str]]) -> str:
    lines = [annotation("error", e["path"], "elfship check: cannot read", e["error"]) for e in errors]
    for result in results:
        lines.extend(result_lines(result))
    return "\n".join(lines)
