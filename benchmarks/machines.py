"""Benchmark: the machine layer on the example OS's image (or the tests' small cloud guest).

Figures, each the median of ``--repeat`` runs: building the image (the image stage on a compose of
the example OS, made once beforehand; with ``--guest test``, the tests' guest disk of
tests/integration/guest_fixtures.py); one machine from start to a successful ``ssh ... true``
under TCG, and with KVM requested (where KVM cannot run the image's boot loader the layer boots
again under TCG, and the report says which accelerator ran); three machines at once (TCG); the
smoke stage end to end (TCG). Goals: smoke under 10 s without KVM, three machines under 1.5x one.

    .venv/bin/python benchmarks/machines.py [--repeat 3] [--guest example|test] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ci_pipeline.config import ArtifactsConfig, Config, TriggerConfig
from ci_pipeline.example.world import create_world
from ci_pipeline.machines.cluster import booted_machines, deadline_in
from ci_pipeline.stages import compose, image, smoke
from ci_pipeline.stages.base import StageContext, StageResult
from ci_pipeline.stages.qemu.bootdisk import boot_dir, image_name

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
from guest_fixtures import build_test_guest

REV = "c15b07cc0f560dd4325b64b8ed8f5750ab102f2ff2e0ace39cda4158f900e4da"
NVR = "ci-hello-1.0-1.200.591b0d2.fc26"


class Runs:
    """Stage contexts of their own under one root, and the seconds each figure took."""

    def __init__(self, root: Path, config: Config) -> None:
        self.root, self.config, self.count = root, config, 0
        self.figures: dict[str, list[float]] = {}

    def context(self, stage: str, fields: dict[str, str], options: dict[str, str]) -> StageContext:
        self.count += 1
        work = self.root / "runs" / f"{self.count}-{stage}"
        (work / "work").mkdir(parents=True)
        return StageContext(
            run_id=self.count,
            stage=stage,
            attempt=1,
            fields=fields,
            workdir=work / "work",
            artifacts_dir=work / "artifacts",
            artifacts_url="http://bench",
            log_path=work / "stage.log",
            config=self.config,
            options=options,
        )

    def stage(
        self,
        figure: str,
        function: Callable[[StageContext], StageResult],
        fields: dict[str, str],
        **options: str,
    ) -> StageResult:
        ctx = self.context(figure.split()[0], fields, options)
        started = time.perf_counter()
        result = function(ctx)
        self.figures.setdefault(figure, []).append(time.perf_counter() - started)
        return result

    def timed(self, figure: str, function: Callable[[], object]) -> None:
        started = time.perf_counter()
        function()
        self.figures.setdefault(figure, []).append(time.perf_counter() - started)


def boot(image_path: Path, root: Path, count: int, accel: str, used: list[str]) -> None:
    """Boot ``count`` machines until each answers over SSH, then stop them."""
    names = [f"node{index}" for index in range(1, count + 1)]
    work = Path(tempfile.mkdtemp(dir=root))
    with booted_machines(
        image_path, names, work, work / "consoles", work / "log", accel=accel, deadline=deadline_in(300)
    ) as machines:
        used.append(machines[0].accel)


def example_image(runs: Runs, repeat: int) -> tuple[Path, dict[str, str]]:
    """Compose the example OS once, build its image ``repeat`` times; the image and the run's fields."""
    fields = {"branch": "f26"}
    fields.update(compose.run(runs.context("compose", dict(fields), {})).outputs)
    for _ in range(repeat):
        built = runs.stage("image build (example OS)", image.run, dict(fields), force_image="1")
    fields.update(built.outputs)
    repo = Path(runs.config.artifacts.root) / "f26" / "ostree"
    fields["nvr"] = _tree_nvr(repo, fields["compose_rev"], "ci-hello")
    return Path(runs.config.artifacts.root) / "f26" / "images" / fields["image_name"], fields


def test_guest_image(runs: Runs, repeat: int) -> tuple[Path, dict[str, str]]:
    """Build the tests' guest ``repeat`` times and publish it as the run's image; the image and fields."""
    for n in range(repeat):
        (runs.root / f"guest-{n}").mkdir(parents=True, exist_ok=True)
        runs.timed(
            "image build (test guest)",
            lambda n=n: build_test_guest(runs.root / f"guest-{n}", commit=REV, rpms=[NVR]),
        )
    images = Path(runs.config.artifacts.root) / "f26" / "images"
    images.mkdir(parents=True)
    name = image_name("26.1", REV)
    (images / name).symlink_to(runs.root / "guest-0" / "guest.qcow2")
    boot_dir(images / name).mkdir()
    (boot_dir(images / name) / "vmlinuz").write_bytes(b"")
    return images / name, {"branch": "f26", "compose_rev": REV, "nvr": NVR, "image_name": name}


def _tree_nvr(repo: Path, rev: str, package: str) -> str:
    """The NVR of ``package`` in the commit ``rev``, as the package recorded it in the tree."""
    return subprocess.run(
        ["ostree", f"--repo={repo}", "cat", rev, f"/usr/lib/ci-pipeline/nvr.d/{package}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--guest", choices=("example", "test"), default="example")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="bench-machines-"))
    config = Config(artifacts=ArtifactsConfig(root=str(root / "artifacts"), base_url="http://bench"))
    if args.guest == "example":
        world = create_world(root / "world")
        config = Config(artifacts=config.artifacts, trigger=TriggerConfig(treefile=str(world.treefile)))
    runs = Runs(root, config)
    image_path, fields = (example_image if args.guest == "example" else test_guest_image)(runs, args.repeat)
    kvm_used: list[str] = []
    for _ in range(args.repeat):
        runs.timed("one machine to SSH (tcg)", lambda: boot(image_path, root, 1, "tcg", []))
        runs.timed("one machine to SSH (kvm requested)", lambda: boot(image_path, root, 1, "kvm", kvm_used))
        runs.timed("three machines to SSH (tcg)", lambda: boot(image_path, root, 3, "tcg", []))
        runs.stage("smoke stage (tcg)", smoke.run, dict(fields), smoke_accel="tcg")
    print(f"{'figure':<38}{'median s':>10}   runs (s)")
    for figure, seconds in runs.figures.items():
        print(f"{figure:<38}{statistics.median(seconds):>10.2f}   {' '.join(f'{s:.2f}' for s in seconds)}")
    print(f"KVM requested, accelerator that ran: {', '.join(kvm_used)}")
    one = statistics.median(runs.figures["one machine to SSH (tcg)"])
    three = statistics.median(runs.figures["three machines to SSH (tcg)"])
    print(f"three machines / one machine (tcg): {three / one:.2f} (goal < 1.5)")
    print(
        f"smoke stage without KVM: {statistics.median(runs.figures['smoke stage (tcg)']):.2f} s (goal < 10 s)"
    )
    print(f"work left in {root}")


if __name__ == "__main__":
    main()
