"""Engine overhead: 500 runs of the seven-stage pipeline of ``true`` commands, SQLite and PostgreSQL.

What it measures, per store, in one invocation (so the two are comparable under the same load):

- transitions: every message a run causes (queued, running, complete per stage; the trigger's
  build queued is replaced by the pipeline-end message), 21 per run.
- engine time per transition: each state-changing transaction of the engine (lease, read, state
  change, outbox rows, commit) is timed, less the time the executor spent spawning the stage's
  process (that is the command's start, counted as command time); the rest is shared out over the
  transitions the transaction made. Median and p99 over all transitions.
- end-to-end overhead, at concurrency 1: (wall time - time inside the stage commands, spawn
  included) / transitions, with the loop of ``ci-pipeline serve`` (trigger consumer, engine, outbox
  relay). This includes relaying, claims and lease upkeep: everything the scheduler does that is not
  the command. A command's time runs until the scheduler sees its end, so scheduler work done
  meanwhile for other runs is hidden in it: this mean can be below the engine time.
- runs per second at concurrency 1 and at concurrency = cores.
- per-stage overhead of a ``true`` command stage: from the executor's start of the attempt to the
  scheduler seeing its end, less a bare fork+exec+wait of ``true`` measured in the same run at the
  same concurrency (medians, and the ratio of the two), at concurrency 1 and 2. Measured twice:
  with the executor alone (a loop that starts attempts and waits for their ends: what the executor
  adds around a command, i.e. containment in a PID namespace, death with the scheduler, the
  environment, the log pipe and its copier, the shell), and inside the engine runs above (which
  adds the engine's own work between a start and the look at its end: the rest of the starting
  transaction and its commit, and the relay thread's share of the process).
- peak RSS of a fresh process with 1,000 and with 10,000 runs queued (flat means the engine holds
  only its active window).

Usage: python benchmarks/engine_overhead.py [RUNS]       (default 500)
"""

from __future__ import annotations

import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "engine"))

from helpers import command_pipeline, postgres_store, sqlite_store_at
from sqlalchemy import insert

from ci_pipeline.bus.memory import MemoryBus
from ci_pipeline.config import load_config
from ci_pipeline.engine import transitions
from ci_pipeline.engine.core import Engine
from ci_pipeline.engine.relay import relay_outbox
from ci_pipeline.executors.base import StageOutcome
from ci_pipeline.executors.local import LocalExecutor
from ci_pipeline.service import Service
from ci_pipeline.stage_contract import StageContext
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import Run

TRANSITIONS_PER_RUN = 7 * 3


class TimedExecutor(LocalExecutor):
    """A local executor that adds up the time inside the stage commands and spent spawning them."""

    def __init__(self, concurrency: int) -> None:
        super().__init__(concurrency)
        self.busy = 0.0
        self.spawning = 0.0
        self.spawns: list[float] = []

        #: Seconds from each attempt's start to its end being seen.
        self.stage_times: list[float] = []
        self._started: dict[tuple[int, str], float] = {}

    def start(self, job: Any) -> Any:
        started = time.perf_counter()
        handle = super().start(job)
        self.spawns.append(time.perf_counter() - started)
        self._started[job.key] = started
        return handle

    def wait(self, timeout: float) -> list[StageOutcome]:
        outcomes = super().wait(timeout)
        ended = time.perf_counter()
        self.busy += sum(outcome.duration for outcome in outcomes)
        self.stage_times += [ended - self._started.pop(outcome.key) for outcome in outcomes]
        return outcomes


class TimedEngine(Engine):
    """The engine with each of its transactions timed and its transitions counted (one outbox
    message per transition), kept here so that the engine itself carries no benchmark counters."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: (seconds less spawning, transitions) of every transaction that made a transition.
        self.timings: list[tuple[float, int]] = []

    def _drive_run(self, run_id: int, outcome: StageOutcome | None) -> Any:
        executor = self.executor
        assert isinstance(executor, TimedExecutor)
        messages, spawning, started = MESSAGES[0], sum(executor.spawns), time.perf_counter()
        try:
            return super()._drive_run(run_id, outcome)
        finally:
            if count := MESSAGES[0] - messages:
                spawned = sum(executor.spawns) - spawning
                self.timings.append((time.perf_counter() - started - spawned, count))


#: Outbox messages the engine has added: one per transition.
MESSAGES = [0]


def _count_messages() -> None:
    add_message = transitions.add_message

    def counted(*args: Any, **kwargs: Any) -> None:
        MESSAGES[0] += 1
        add_message(*args, **kwargs)

    transitions.add_message = counted  # type: ignore[assignment]


def bare_true(concurrency: int, rounds: int = 200) -> list[float]:
    """Seconds from fork+exec of ``true`` to its reaping, ``concurrency`` at once, as a stage would."""
    times = []
    for _ in range(rounds):
        started = []
        for _ in range(concurrency):
            started.append((time.perf_counter(), subprocess.Popen(["true"], stdin=subprocess.DEVNULL)))
        for began, process in started:
            process.wait()
            times.append(time.perf_counter() - began)
    return times


def executor_alone(root: Path, concurrency: int, stages: int = 400) -> list[float]:
    """Seconds from each ``true`` command attempt's start to its end being seen, the executor alone."""
    executor = LocalExecutor(concurrency)
    times = []
    for batch in range(stages // concurrency):
        started = {}
        for slot in range(concurrency):
            work = root / f"alone-{concurrency}" / f"{batch}.{slot}"
            job = StageContext(run_id=batch + 1, stage=f"s{slot}", attempt=1, fields={}, workdir=work,
                               artifacts_dir=work / "artifacts", artifacts_url="", log_path=work / "log",
                               command="true")
            started[job.key] = time.perf_counter()
            executor.start(job)
        while started:
            for outcome in executor.wait(1.0):
                times.append(time.perf_counter() - started.pop(outcome.key))
    return times


def stage_overhead(name: str, stage_times: list[float], concurrency: int) -> None:
    """Print the median ``true`` command stage against a bare ``true`` at the same concurrency."""
    bare = statistics.median(bare_true(concurrency))
    stage = statistics.median(stage_times)
    print(f"{name:<10} concurrency {concurrency}: a true command stage takes {stage * 1000:.2f} ms "
          f"(median of {len(stage_times)}), a bare fork+exec of true {bare * 1000:.2f} ms: overhead "
          f"{(stage - bare) * 1000:.2f} ms per stage, ratio {stage / bare:.1f}", flush=True)


def queue_runs(store: Store, count: int, prefix: str) -> None:
    """Insert ``count`` queued runs in one statement, as the trigger would have."""
    rows = []
    for index in range(count):
        rev = secrets.token_hex(20)
        build_id = index + 1
        fields = {
            "CI_NAME": "ci-pipeline-f26", "CI_TYPE": "custom", "build_id": str(build_id),
            "build_url": f"http://ci/job/ci-pipeline-f26/{build_id}/", "username": "fedora-atomic",
            "repo": f"{prefix}{index}", "rev": rev, "namespace": "rpms", "branch": "f26",
            "ref": "fedora/f26/x86_64/atomic-host", "message-content": "", "test_guidance": "''",
        }
        rows.append({"repo": f"{prefix}{index}", "rev": rev, "namespace": "rpms", "branch": "f26",
                     "ci_name": "ci-pipeline-f26", "build_id": build_id, "fields": fields, "options": {}})
    with store.session() as session:
        session.execute(insert(Run), rows)


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def measure(name: str, store: Store, runs: int, state: Path, concurrency: int) -> None:
    """Drive ``runs`` runs to the end and print the figures of one store and concurrency."""
    config = load_config(environ={"CI_PIPELINE_STATE_DIR": str(state)})
    queue_runs(store, runs, f"{name}-{concurrency}-")
    executor = TimedExecutor(concurrency)
    bus = MemoryBus(f"memory://bench-{name}-{concurrency}")
    engine = TimedEngine(config, store, bus, executor=executor, pipeline=command_pipeline())
    service = Service(config, store, bus)  # the loop of ``ci-pipeline serve``: trigger, engine, relay
    service.engine = engine
    started = time.perf_counter()
    service.run(until_idle=True)
    wall = time.perf_counter() - started
    transitions = runs * TRANSITIONS_PER_RUN
    # A stage's process is spawned inside the transaction that starts it: that is command time.
    per_transition = [seconds / count for seconds, count in engine.timings for _ in range(count)]
    assert len(per_transition) == transitions, (len(per_transition), transitions)
    command = executor.busy + sum(executor.spawns)
    line = (
        f"{name:<10} concurrency {concurrency}: {runs} runs in {wall:5.1f} s = {runs / wall:5.1f} runs/s; "
        f"engine time per transition median {statistics.median(per_transition) * 1000:.2f} ms, "
        f"p99 {percentile(per_transition, 0.99) * 1000:.2f} ms"
    )
    if concurrency == 1:
        line += (
            f"; commands {command:.1f} s (spawn median {statistics.median(executor.spawns) * 1000:.2f} ms); "
            f"end-to-end overhead {(wall - command) / transitions * 1000:.2f} ms/transition (mean)"
        )
    print(line, flush=True)
    if concurrency <= 2:
        stage_overhead(name, executor.stage_times, concurrency)


def queued_memory(database: Path) -> None:
    """In this fresh process: open a store of queued runs, tick the engine, print the peak RSS (KiB)."""
    with tempfile.TemporaryDirectory() as tmp, sqlite_store_at(database) as store:
        config = load_config(environ={"CI_PIPELINE_STATE_DIR": tmp})
        pipeline = command_pipeline({"build": "sleep 5"})
        engine = Engine(config, store, MemoryBus("memory://bench-q"), executor=LocalExecutor(2),
                        pipeline=pipeline)
        for _ in range(20):
            engine.tick(wait=0)
            relay_outbox(store, engine.bus)
        engine.shutdown()
    # VmHWM is this process image's own peak; ru_maxrss would also count the parent at the fork.
    status = Path("/proc/self/status").read_text()
    print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


def peak_rss(runs: int, root: Path) -> int:
    """Peak RSS in KiB of a fresh process whose engine starts on a store with ``runs`` queued runs."""
    database = root / f"queued-{runs}.sqlite"
    with sqlite_store_at(database) as store:
        queue_runs(store, runs, "q")
    out = subprocess.run([sys.executable, __file__, "--queued", str(database)], check=True,
                         capture_output=True, text=True).stdout
    return int(out.split()[-1])


def main() -> None:
    if sys.argv[1:2] == ["--queued"]:
        queued_memory(Path(sys.argv[2]))
        return
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    _count_messages()
    cores = os.cpu_count() or 1
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {cores} cores")
    print((__doc__ or "").split("Usage:")[0].strip())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for concurrency in (1, 2):
            stage_overhead("executor alone,", executor_alone(root, concurrency), concurrency)
        for concurrency in sorted({1, 2, cores}):
            with sqlite_store_at(root / f"bench-{concurrency}.sqlite") as store:
                measure("sqlite", store, runs, root / f"s{concurrency}", concurrency)
            with postgres_store() as store:
                measure("postgresql", store, runs, root / f"p{concurrency}", concurrency)
        small, large = peak_rss(1_000, root), peak_rss(10_000, root)
    print(f"peak RSS of the engine's process with 1,000 runs queued {small / 1024:.0f} MiB, "
          f"with 10,000 runs queued {large / 1024:.0f} MiB")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
