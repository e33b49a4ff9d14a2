"""Bundle a dynamic ELF with its libraries and loader into a layout that runs on an older or bare Linux."""

from elfship.bundle.api import choose_format, default_output, make_bundle
from elfship.bundle.collect import plan_bundle
from elfship.bundle.model import BundleEntry, BundlePlan, BundleResult, Excluded, Format, Role
from elfship.bundle.policy import DEFAULT_EXCLUDES

__all__ = [
    "DEFAULT_EXCLUDES",
    "BundleEntry",
    "BundlePlan",
    "BundleResult",
    "Excluded",
    "Format",
    "Role",
    "choose_format",
    "default_output",
    "make_bundle",
    "plan_bundle",
]
