"""Benchmark: cold compose, incremental compose, image build and TCG smoke boot of the example OS.

Each figure is the median of ``--repeat`` runs, with the share of its time spent inside the
tools (``run_tool`` calls) against the whole stage. The incremental compose follows a cold one
after one package (ci-hello) got a new CI build. ``--world example`` composes the example OS
(ci_pipeline.example) instead of the test fixture OS; both get ci-hello from CI builds. Only the
example OS is a cloud guest, so the smoke figure needs ``--world example``.
Goals: incremental at most half of cold; smoke boot under 10 s without KVM.

    .venv/bin/python benchmarks/compose_image_smoke.py [--repeat 3] [--workdir DIR] [--world example]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ci_pipeline.config import ArtifactsConfig, Config, TriggerConfig
from ci_pipeline.example.world import create_world
from ci_pipeline.stages import base, compose, image, smoke
from ci_pipeline.stages.base import StageContext, StageResult

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
from compose_fixtures import create_fixture_world, hello_spec, publish_ci_build

BRANCH = "f26"
_tool_seconds = 0.0
_original_run_tool = base.run_tool


def _timed_run_tool(argv: Sequence[str], log_path: Path, **kwargs: Any) -> None:
    global _tool_seconds
    started = time.perf_counter()
    try:
        _original_run_tool(argv, log_path, **kwargs)
    finally:
        _tool_seconds += time.perf_counter() - started


class Bench:
    """Runs stages in fresh contexts and records (total, tool) seconds per figure."""

    def __init__(self, root: Path, config: Config) -> None:
        self.root, self.config, self.count = root, config, 0
        self.figures: dict[str, list[tuple[float, float]]] = {}

    def run(
        self,
        figure: str,
        stage: Callable[[StageContext], StageResult],
        fields: Mapping[str, str],
        options: Mapping[str, str] | None = None,
    ) -> StageResult:
        global _tool_seconds
        self.count += 1
        work = self.root / "runs" / f"{self.count}-{figure.replace(' ', '-')}"
        (work / "work").mkdir(parents=True)
        ctx = StageContext(
            run_id=self.count,
            stage=figure,
            attempt=1,
            fields=dict(fields),
            workdir=work / "work",
            artifacts_dir=work / "artifacts",
            artifacts_url="http://bench",
            log_path=work / "stage.log",
            config=self.config,
            options=dict(options or {}),
        )
        _tool_seconds = 0.0
        started = time.perf_counter()
        result = stage(ctx)
        self.figures.setdefault(figure, []).append((time.perf_counter() - started, _tool_seconds))
        return result

    def median(self, figure: str) -> float:
        return statistics.median(total for total, _ in self.figures[figure])

    def report(self) -> None:
        print(f"{'figure':<24}{'median s':>10}{'tools %':>9}   runs (s)")
        for figure, runs in self.figures.items():
            share = 100 * sum(tool for _, tool in runs) / sum(total for total, _ in runs)
            each = " ".join(f"{total:.2f}" for total, _ in runs)
            print(f"{figure:<24}{self.median(figure):>10.2f}{share:>8.0f}%   {each}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--world",
        choices=("fixture", "example"),
        default="fixture",
        help="the OS composed: the test fixture OS, or ci_pipeline.example's (its own initramfs)",
    )
    args = parser.parse_args()
    base.run_tool = _timed_run_tool  # the stages call base.run_tool, so every tool is timed
    root = args.workdir or Path(tempfile.mkdtemp(prefix="bench-compose-"))
    world = create_world(root / "world") if args.world == "example" else create_fixture_world(root / "world")
    artifacts = root / "artifacts"
    config = Config(
        artifacts=ArtifactsConfig(root=str(artifacts), base_url="http://bench/artifacts"),
        trigger=TriggerConfig(treefile=str(world.treefile)),
    )
    bench = Bench(root, config)
    fields: dict[str, str] = {}
    for n in range(1, args.repeat + 1):
        # Cold: no OSTree repo, no caches; the CI build repos stay, as they belong to the build stage.
        shutil.rmtree(artifacts / BRANCH / "ostree", ignore_errors=True)
        shutil.rmtree(artifacts / BRANCH / ".compose-cache", ignore_errors=True)
        # Each build is a run of its own, its repository in the run's artifacts (the build stage's way).
        cold_spec, spec = hello_spec("9.0", f"{n}.1.aaaaaaa.fc26"), hello_spec("9.0", f"{n}.2.bbbbbbb.fc26")
        cold = publish_ci_build(config, 2 * n - 1, BRANCH, cold_spec, root / f"b{n}a")
        bench.run("cold compose", compose.run, cold)
        fields = publish_ci_build(config, 2 * n, BRANCH, spec, root / f"b{n}b")
        fields.update(bench.run("incremental compose", compose.run, fields).outputs)
        fields.update(bench.run("image build", image.run, fields, {"force_image": "1"}).outputs)
        if args.world == "example":  # the fixture OS is a disk, not a cloud guest: it never boots
            bench.run("smoke boot (TCG)", smoke.run, fields, {"smoke_accel": "tcg"})
    bench.report()
    ratio = bench.median("incremental compose") / bench.median("cold compose")
    print(f"incremental / cold compose: {ratio:.2f} (goal <= 0.50)")
    if "smoke boot (TCG)" in bench.figures:
        print(f"smoke boot without KVM: {bench.median('smoke boot (TCG)'):.2f} s (goal < 10 s)")
    print(f"work left in {root}")


if __name__ == "__main__":
    main()
