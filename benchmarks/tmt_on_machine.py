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
import tempfile
import time
from pathlib import Path

from ci_pipeline.config import ArtifactsConfig, Config, DistGitConfig, LookasideConfig, TriggerConfig
from ci_pipeline.example.catalog import INTEGRATION_TESTS_DIR
from ci_pipeline.example.world import create_world
from ci_pipeline.machines.cluster import booted_machines, deadline_in
from ci_pipeline.stages import compose, image
from ci_pipeline.stages.base import StageContext
from ci_pipeline.stages.tmt.metadata import checkout_plans
from ci_pipeline.stages.tmt.on_machine import run_plans_on_machine
from ci_pipeline.stages.tools import Deadline


class Runs:
    """Stage contexts of their own under one root."""

    def __init__(self, root: Path, config: Config) -> None:
        self.root, self.config, self.count = root, config, 0

    def context(self, stage: str, fields: dict[str, str]) -> StageContext:
        self.count += 1
        work = self.root / "runs" / f"{time.time_ns()}-{self.count}-{stage}"
        (work / "work").mkdir(parents=True)
        return StageContext(
            run_id=self.count, stage=stage, attempt=1, fields=fields, workdir=work / "work",
            artifacts_dir=work / "artifacts", artifacts_url="http://bench", log_path=work / "stage.log",
            config=self.config, timeout=600.0,
        )


def example_image(root: Path) -> tuple[Runs, Path]:
    """The image of a compose of the example OS under ``root`` (built when missing)."""
    world = create_world(root / "world")
    config = Config(
        artifacts=ArtifactsConfig(root=str(root / "artifacts"), base_url="http://bench"),
        trigger=TriggerConfig(treefile=str(world.treefile)),
        distgit=DistGitConfig(url=world.distgit_url),
        lookaside=LookasideConfig(url=world.lookaside_url),
    )
    runs = Runs(root, config)
    images = root / "artifacts" / world.branch / "images"
    built = sorted(p for p in images.glob("*.qcow2") if not p.is_symlink()) if images.is_dir() else []
    if built:
        return runs, built[-1]
    fields = {"branch": world.branch}
    for name, stage in (("compose", compose.run), ("image", image.run)):
        fields.update(stage(runs.context(name, fields)).outputs)
    return runs, images / fields["image_name"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="bench-tmt-machine-"))
    root.mkdir(parents=True, exist_ok=True)
    runs, disk = example_image(root)
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
        for _ in range(args.repeat):
            started = time.monotonic()
            result = run_plans_on_machine(runs.context("integration", {}), checkout, metadata, machine.ssh,
                                          Deadline(600.0))
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
