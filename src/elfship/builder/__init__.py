"""Cargo orchestration: strategy -> cargo command + environment -> diagnose failure -> verify -> output.

from elfship.builder import BuildRequest, run_build, Strategy
result = run_build(BuildRequest(cwd=Path("."), strategy=Strategy.GLIBC_PINNED, for_targets=("debian:10",)))
result.ok, result.plan.argv, result.plan.env, result.artifacts[0].path
"""

from elfship.builder.diagnose import KNOWN_FAILURES, Diagnosis, diagnose
from elfship.builder.pipeline import ArtifactResult, BuildRequest, BuildResult, run_build
from elfship.builder.plan import BuildOptions, BuildPlan, make_plan
from elfship.builder.strategy import Strategy, StrategyChoice, choose_strategy

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
