"""Benchmark: the machine layer on the tests' cloud guest (tests/integration/guest_fixtures.py).

Figures, each the median of ``--repeat`` runs: building the guest's bootable disk; one machine from
start to a successful ``ssh ... true`` under TCG, and with KVM requested (where KVM cannot run the
guest's boot loader the layer boots again under TCG, and the figure says which accelerator ran);
three machines at once (TCG); the smoke stage end to end (TCG). Goals: smoke under 10 s without KVM,
three machines under 1.5x one.

    .venv/bin/python benchmarks/machines.py [--repeat 3] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ci_pipeline.config import ArtifactsConfig, Config
from ci_pipeline.machines.cluster import booted_machines, deadline_in
from ci_pipeline.stages import smoke
from ci_pipeline.stages.base import StageContext
from ci_pipeline.stages.qemu.bootdisk import boot_dir, image_name

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
from guest_fixtures import build_test_guest

REV = "c15b07cc0f560dd4325b64b8ed8f5750ab102f2ff2e0ace39cda4158f900e4da"
NVR = "ci-hello-1.0-1.200.591b0d2.fc26"


def timed(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def boot(image: Path, root: Path, count: int, accel: str, used: list[str]) -> None:
    """Boot ``count`` machines until each answers over SSH, then stop them."""
    names = [f"node{index}" for index in range(1, count + 1)]
    work = Path(tempfile.mkdtemp(dir=root))
    with booted_machines(
        image, names, work, work / "consoles", work / "log", accel=accel, deadline=deadline_in(300)
    ) as machines:
        used.append(machines[0].accel)


def smoke_once(image: Path, root: Path, number: int) -> None:
    """The smoke stage on the guest, as an image of the pipeline."""
    run = root / f"smoke-{number}"
    images = run / "artifacts" / "f26" / "images"
    images.mkdir(parents=True)
    name = image_name("26.1", REV)
    (images / name).symlink_to(image)
    boot_dir(images / name).mkdir()
    (boot_dir(images / name) / "vmlinuz").write_bytes(b"")
    (run / "work").mkdir()
    ctx = StageContext(
        run_id=number,
        stage="smoke",
        attempt=1,
        fields={"branch": "f26", "compose_rev": REV, "nvr": NVR, "image_name": name},
        workdir=run / "work",
        artifacts_dir=run / "out",
        artifacts_url="http://bench",
        log_path=run / "stage.log",
        config=Config(artifacts=ArtifactsConfig(root=str(run / "artifacts"), base_url="http://bench")),
        options={"smoke_accel": "tcg"},
    )
    smoke.run(ctx)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="bench-machines-"))
    figures: dict[str, list[float]] = {}
    image = root / "guest-0" / "guest.qcow2"
    for n in range(args.repeat):
        (root / f"guest-{n}").mkdir(parents=True, exist_ok=True)
        figures.setdefault("guest disk build", []).append(
            timed(lambda n=n: build_test_guest(root / f"guest-{n}", commit=REV, rpms=[NVR]))
        )
    kvm_used: list[str] = []
    for n in range(args.repeat):
        figures.setdefault("one machine to SSH (tcg)", []).append(
            timed(lambda: boot(image, root, 1, "tcg", []))
        )
        figures.setdefault("one machine to SSH (kvm requested)", []).append(
            timed(lambda: boot(image, root, 1, "kvm", kvm_used))
        )
        figures.setdefault("three machines to SSH (tcg)", []).append(
            timed(lambda: boot(image, root, 3, "tcg", []))
        )
        figures.setdefault("smoke stage (tcg)", []).append(timed(lambda n=n: smoke_once(image, root, n)))
    print(f"{'figure':<38}{'median s':>10}   runs (s)")
    for figure, runs in figures.items():
        print(f"{figure:<38}{statistics.median(runs):>10.2f}   {' '.join(f'{run:.2f}' for run in runs)}")
    print(f"KVM requested, accelerator that ran: {', '.join(kvm_used)}")
    one, three = (
        statistics.median(figures["one machine to SSH (tcg)"]),
        statistics.median(figures["three machines to SSH (tcg)"]),
    )
    print(f"three machines / one machine (tcg): {three / one:.2f} (goal < 1.5)")
    print(f"smoke stage without KVM: {statistics.median(figures['smoke stage (tcg)']):.2f} s (goal < 10 s)")
    print(f"work left in {root}")


if __name__ == "__main__":
    main()
