"""Engine overhead: 500 runs of the seven-stage pipeline of ``true`` commands on SQLite and PostgreSQL.

Prints, per store: runs per second, the mean overhead per stage transition ((wall time - time inside
the stage commands) / transitions), and the median and p99 of the engine's own time per state-changing
transaction (one covers up to three transitions); then the peak RSS while 10,000 runs are queued.
Usage: python benchmarks/engine_overhead.py [RUNS]
"""

from __future__ import annotations

import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "engine"))

from helpers import add_run, command_pipeline, postgres_store, sqlite_store_at

from ci_pipeline.bus.memory import MemoryBus
from ci_pipeline.config import load_config
from ci_pipeline.engine.core import Engine
from ci_pipeline.engine.relay import relay_outbox
from ci_pipeline.executors.local import LocalExecutor
from ci_pipeline.store.db import Store


class TimedExecutor(LocalExecutor):
    """Adds up the time the stage commands ran."""

    busy = 0.0

    def wait(self, timeout: float):  # type: ignore[no-untyped-def]
        outcomes = super().wait(timeout)
        self.busy += sum(outcome.duration for outcome in outcomes)
        return outcomes


def measure(name: str, store: Store, runs: int, state: Path) -> None:
    config = load_config(environ={"CI_PIPELINE_STATE_DIR": str(state)})
    for index in range(runs):
        add_run(store, repo=f"pkg{index}")
    executor = TimedExecutor(1)
    bus = MemoryBus(f"memory://bench-{name}")
    engine = Engine(config, store, bus, executor=executor, pipeline=command_pipeline(), max_active=8)
    engine.timings = []
    started = time.perf_counter()
    while True:
        worked = engine.tick(wait=0.01)
        worked = relay_outbox(store, bus) > 0 or worked
        if not worked and engine.idle():
            break
    wall = time.perf_counter() - started
    transitions = runs * 7 * 3
    timings = sorted(engine.timings)
    p99 = timings[int(len(timings) * 0.99)]
    print(
        f"{name}: {runs} runs in {wall:.1f} s = {runs / wall:.1f} runs/s; "
        f"stage commands {executor.busy:.1f} s; "
        f"mean overhead {(wall - executor.busy) / transitions * 1000:.2f} ms/transition; engine transaction "
        f"median {statistics.median(timings) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms"
    )


def queued_memory(runs: int, state: Path) -> None:
    with sqlite_store_at(state / "queued.sqlite") as store:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for index in range(runs):
            add_run(store, repo=f"q{index}")
        config = load_config(environ={"CI_PIPELINE_STATE_DIR": str(state / "q")})
        engine = Engine(
            config,
            store,
            MemoryBus("memory://bench-q"),
            executor=LocalExecutor(2),
            pipeline=command_pipeline({"build": "sleep 5"}),
        )
        for _ in range(20):
            engine.tick(wait=0)
        engine.shutdown()
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"peak RSS with {runs} runs queued: {after / 1024:.0f} MiB (before queuing {before / 1024:.0f} MiB)"
    )


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with sqlite_store_at(root / "bench.sqlite") as store:
            measure("sqlite", store, runs, root / "s")
        with postgres_store() as store:
            measure("postgresql", store, runs, root / "p")
        queued_memory(10_000, root)


if __name__ == "__main__":
    main()
