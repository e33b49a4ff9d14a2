"""Output formats each command offers: named once, for the CLI's choices and for the renderers.

Kept free of imports so that building the argument parser costs nothing."""

CHECK_FORMATS = (
    "text",
    "json",
    "junit",
    "github",
)  # junit: a testcase per file x target; github: annotations
