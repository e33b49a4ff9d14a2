from __future__ import annotations

import signal
import sys
from pathlib import Path

# Make `tests.support` importable however pytest is invoked.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# A suite started in the background (`cmd &` in a shell without job control, as some CI runners and nohup do)
# inherits SIGINT ignored, and so would every program the tests start: the tests that press Ctrl-C would
# then wait for an interrupt that never lands. Each test process (the xdist workers load this file too)
# takes SIGINT back, so its children start with it as a terminal's programs do.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
