"""Peak resident memory of a piece of training work, for the bench scripts' child processes.

Reported is the resident-set high-water mark while ``work()`` runs, above what the
process held just before (VmHWM is reset through ``/proc/self/clear_refs`` on Linux;
elsewhere ``ru_maxrss`` minus the RSS before, which can under-count). Free memory that
malloc keeps (glassgrad's allocator tuning keeps up to 256 MiB, see
glassgrad/allocator.py) is handed back to the OS first, so that the work cannot reuse
memory counted in the base.
"""

from __future__ import annotations

import gc
import os
import resource
from typing import Callable


def rss_kib() -> int:
    """Current resident set size in KiB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def hwm_kib() -> int | None:
    """Resident-set high-water mark (VmHWM) in KiB, or None where it cannot be read."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_above_base_mib(work: Callable[[], object]) -> tuple[float, bool]:
    """Run ``work()``; return (peak RSS above the RSS before it, in MiB; whether the
    high-water mark could be reset, i.e. whether the figure is exact)."""
    gc.collect()
    try:
        from glassgrad.allocator import release_memory

        release_memory()
    except ImportError:  # (a child that never imported glassgrad: nothing is kept)
        pass
    base = rss_kib()
    reset = False
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset VmHWM to the current RSS
        reset = True
    except OSError:
        pass
    work()
    peak = hwm_kib() if reset else None
    if peak is None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (peak - base) / 1024.0, reset
