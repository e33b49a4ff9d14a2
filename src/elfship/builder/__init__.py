"""Cargo orchestration: strategy -> cargo command + environment -> diagnose failure -> verify -> output.

from elfship.builder import BuildRequest, run_build, Strategy
result = run_build(BuildRequest(cwd=Path("."), strategy=Strategy.GLIBC_PINNED, for_targets=("debian:10",)))
result.ok, result.plan.argv, result.plan.env, result.artifacts[0].path
"""

from __future__ import annotations

from elfship.lazy import lazy_exports

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from elfship.builder.diagnose import KNOWN_FAILURES, Diagnosis, diagnose
    from elfship.builder.pipeline import ArtifactResult, BuildRequest, BuildResult, run_build
    from elfship.builder.plan import BuildOptions, BuildPlan, make_plan
    from elfship.builder.strategy import Strategy, StrategyChoice, choose_strategy

# A lazy package (elfship.lazy): importing one of its modules does not load the others.
_HOMES = {
    "ArtifactResult": "pipeline",
    "BuildOptions": "plan",
    "BuildPlan": "plan",
    "BuildRequest": "pipeline",
    "BuildResult": "pipeline",
    "Diagnosis": "diagnose",
    "KNOWN_FAILURES": "diagnose",
    "Strategy": "strategy",
    "StrategyChoice": "strategy",
    "choose_strategy": "strategy",
    "diagnose": "diagnose",
    "make_plan": "plan",
    "run_build": "pipeline",
}
__all__ = [
    "KNOWN_FAILURES",
    "ArtifactResult",
    "BuildOptions",
    "BuildPlan",
    "BuildRequest",
    "BuildResult",
    "Diagnosis",
    "Strategy",
    "StrategyChoice",
    "choose_strategy",
    "diagnose",
    "make_plan",
    "run_build",
]
__getattr__ = lazy_exports(__name__, _HOMES)
