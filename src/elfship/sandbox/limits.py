"""Resource limits for everything started in the sandbox, and the host identity it runs under.

Applied in the child before the sandbox tool is executed, so they are inherited by every process inside.
"""

from __future__ import annotations

import math
import os
import resource

from elfship.record import record

# When elfship runs as root, the sandbox runs as this otherwise unused host uid/gid: a process that escaped
# every namespace would still be an unprivileged user, and RLIMIT_NPROC (which the kernel never applies to
# uid 0) holds. Inside the sandbox the program sees uid/gid 65534 (nobody), never 0.
HOST_ID = 65533
INSIDE_ID = 65534

MiB = 1 << 20


@record
class Limits:
    cpu_seconds: int  # per process: a busy loop is stopped even if the wall-clock watchdog is not
    address_space: int  # bytes of virtual memory per process
    file_size: int  # largest file a process may write (the tmpfs /tmp is bounded separately)
    processes: int  # per host uid: a fork bomb stops here
    tmp_size: int  # bytes of the sandbox's fresh /tmp

    @staticmethod
    def for_run(timeout: float, program_size: int) -> Limits:
        return Limits(
            cpu_seconds=math.ceil(timeout) + 5,
            address_space=4096 * MiB,
            # The sandbox tool copies the program into its own tmpfs: that write must fit.
            file_size=max(64 * MiB, program_size + MiB),
            processes=256,
            tmp_size=64 * MiB,
        )

    def apply(self) -> None:
        """In the child, before exec: lower (never raise) each limit."""
        for kind, value in (
            (resource.RLIMIT_CPU, self.cpu_seconds),
            (resource.RLIMIT_AS, self.address_space),
            (resource.RLIMIT_FSIZE, self.file_size),
            (resource.RLIMIT_NPROC, self.processes),
            (resource.RLIMIT_CORE, 0),
        ):
            _soft, hard = resource.getrlimit(kind)
            capped = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(kind, (capped, capped))


def drop_to_sandbox_user() -> None:
    """In the child, as root: become HOST_ID with no supplementary groups (irreversible)."""
    os.setgroups([])
    os.setresgid(HOST_ID, HOST_ID, HOST_ID)
    os.setresuid(HOST_ID, HOST_ID, HOST_ID)
