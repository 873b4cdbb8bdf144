"""Benchmark: the example integration suite's tmt plan on a booted example machine over SSH.

One machine is booted from an image of a compose of the example OS (made once beforehand, reused
from ``--workdir``); the suite's plan (three tests) then runs ``--repeat`` times on it with
``run_plans_on_machine``, as the integration stage would. Figures: the medians of the whole
``tmt run`` and of the tests' own durations as tmt reports them, and their ratio; the rest is tmt's
own work over SSH (facts, rsync of its work directory and of each test's files, an SSH master per step).

    .venv/bin/python benchmarks/tmt_on_machine.py [--repeat 3] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from compose_fixtures import example_config, stage_context

from ci_pipeline.config import Config
from ci_pipeline.example.catalog import INTEGRATION_TESTS_DIR
from ci_pipeline.example.world import create_world
from ci_pipeline.machines.cluster import booted_machines, deadline_in
from ci_pipeline.stages import compose, image
from ci_pipeline.stages.tmt.metadata import checkout_plans
from ci_pipeline.stages.tmt.on_machine import run_plans_on_machine
from ci_pipeline.stages.tools import Deadline


def example_image(root: Path, runs: Path) -> tuple[Config, Path]:
    """The configuration of the example OS under ``root`` and its image (built when missing, with
    the stages' contexts under ``runs``)."""
    world = create_world(root / "world")
    config = example_config(root, world)
    images = root / "artifacts" / world.branch / "images"
    built = sorted(p for p in images.glob("*.qcow2") if not p.is_symlink()) if images.is_dir() else []
    if built:
        return config, built[-1]
    fields = {"branch": world.branch}
    for number, (name, stage) in enumerate((("compose", compose.run), ("image", image.run)), start=1):
        fields.update(stage(stage_context(runs, number, name, fields, config)).outputs)
    return config, images / fields["image_name"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="bench-tmt-machine-"))
    root.mkdir(parents=True, exist_ok=True)
    runs = root / f"bench-{time.time_ns()}"  # a --workdir is reused: each invocation's runs apart
    config, disk = example_image(root, runs)
    checkout = root / "suite"
    shutil.rmtree(checkout, ignore_errors=True)
    shutil.copytree(INTEGRATION_TESTS_DIR, checkout)
    metadata = checkout_plans(checkout)
    whole: list[float] = []
    tests: list[float] = []
    boot = root / f"boot-{time.time_ns()}"
    with booted_machines(
        disk, ["subject"], boot / "machines", boot / "consoles", boot / "log", accel="",
        deadline=deadline_in(300),
    ) as (machine,):
        for number in range(3, 3 + args.repeat):
            ctx = stage_context(runs, number, "integration", {}, config, timeout=600.0)
            started = time.monotonic()
            result = run_plans_on_machine(ctx, checkout, metadata, machine.ssh, Deadline(600.0))
            whole.append(time.monotonic() - started)
            tests.append(sum(test.duration for test in result.tests))
            print(f"run: {whole[-1]:.1f} s, {result.summary}", flush=True)
    run_median, test_median = statistics.median(whole), statistics.median(tests)
    print(f"tmt run over SSH, {len(result.tests)} tests: median {run_median:.1f} s "
          f"(runs {' '.join(f'{s:.1f}' for s in whole)})")
    print(f"the tests' own time (tmt's durations, whole seconds): median {test_median:.0f} s")
    print(f"tmt run / tests' own time: {run_median / max(test_median, 1.0):.1f}")
    print(f"work left in {root}")


if __name__ == "__main__":
    main()
