"""Timing and peak-RSS sampling of one timed region (as the anchor samples it), and how a phase timed in a
process of its own reports them to the process that started it."""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path
from types import TracebackType
from typing import Any

_PAGE = resource.getpagesize()


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (every thread): a load-robust work measure."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def current_rss_mib() -> float:
    """Resident set size of this process now, in MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE / 2**20


class Timed:
    """Context manager: wall time and the highest RSS sampled every 10 ms inside the block.

    ``ru_maxrss`` is a whole-process high-water mark (dominated by data generation), so the timed
    region is sampled on its own, exactly as the anchor does.
    """

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.seconds = self.cpu = 0.0
        self.start_mib = self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_mib = max(self.peak_mib, current_rss_mib())

    def __enter__(self) -> Timed:
        self.start_mib = self.peak_mib = current_rss_mib()
        self._thread.start()
        self._t0 = time.perf_counter()
        self._cpu0 = cpu_seconds()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.seconds = time.perf_counter() - self._t0
        self.cpu = cpu_seconds() - self._cpu0
        self._stop.set()
        self._thread.join()
        self.peak_mib = max(self.peak_mib, current_rss_mib())


@dataclass(frozen=True)
class Figures:
    """What one timed region measured (a :class:`Timed`'s figures), as a phase process reports them."""

    seconds: float
    cpu: float
    start_mib: float
    peak_mib: float


#: one timed phase of one round: (timing, answer correct, rows new, rows stale)
PhaseSample = tuple[Timed | Figures, bool, int, int]
#: the line a phase process prints its sample on starts with this
_SAMPLE_KEY = "phase_sample"


def print_sample(sample: PhaseSample) -> None:
    """Report a phase measured in this process to the process that started it (see :func:`run_phase`)."""
    timed, ok, rows_new, rows_stale = sample
    figures = {f.name: getattr(timed, f.name) for f in fields(Figures)}
    print(json.dumps({_SAMPLE_KEY: [figures, ok, rows_new, rows_stale]}), flush=True)


def run_phase(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[Figures, bool, int, int]:
    """Run one timed phase in a process of its own (``cmd``) and return the sample it printed.

    The phase process opens a store another process wrote, so its memory holds only what the phase
    itself and the interpreter need: not the data generation and writes before it, whose freed memory
    the allocators keep for a while (hundreds of MiB at 1M samples, GiBs at 10M).
    """
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith(f'{{"{_SAMPLE_KEY}"'):
            figures, ok, rows_new, rows_stale = json.loads(line)[_SAMPLE_KEY]
            return Figures(**figures), ok, rows_new, rows_stale
    raise RuntimeError(
        f"the phase process {' '.join(cmd)} printed no sample (exit {proc.returncode}):\n"
        f"{proc.stderr.strip()[-2000:]}"
    )


def summary_row(samples: list[PhaseSample], **labels: Any) -> dict[str, Any]:
    """One result row for a phase over its rounds: ``labels`` first, then the medians and the extremes."""
    times = [s[0].seconds for s in samples]
    return {
        **labels,
        "median_s": round(statistics.median(times), 4),
        "min_s": round(min(times), 4),
        "max_s": round(max(times), 4),
        "rounds": len(samples),
        "times_s": [round(t, 4) for t in times],
        # CPU seconds of all threads: steadier than wall time on a shared, loaded machine
        "median_cpu_s": round(statistics.median(s[0].cpu for s in samples), 4),
        "rows_new": samples[0][2],
        "rows_stale": samples[0][3],
        "ok": all(s[1] for s in samples),
        "phase_start_rss_mib": round(max(s[0].start_mib for s in samples), 1),
        "phase_peak_rss_mib": round(max(s[0].peak_mib for s in samples), 1),
        # the largest growth of one round over its own start (the two maxima above may be of different rounds)
        "phase_growth_rss_mib": round(max(s[0].peak_mib - s[0].start_mib for s in samples), 1),
    }
