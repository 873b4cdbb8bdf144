"""Benchmark: map a 1,500-package treefile to source packages in a 60,000-package repo.

Writes a file:// repo whose primary.xml.gz has the shape of Fedora's (summary, description, a
sourcerpm, a dozen provides and requires, a few files per package), then resolves the treefile's
binaries cold (empty cache: fetch, decompress, parse) and cached (repomd.xml and the name cache),
several times each, and prints the medians and their ratio. Goal: cold under 5 s, cached under 50 ms.

    .venv/bin/python benchmarks/treefile_sources.py [--packages 60000] [--treefile 1500] [--runs 5]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

from ci_pipeline.repodata import source_packages

SUBPACKAGES = ("", "-libs", "-devel", "-doc", "-common", "-server", "-clients", "-minimal")


def package_xml(name: str, source: str, rng: random.Random) -> str:
    """One <package> of a primary.xml, shaped like Fedora's."""
    version, release = f"{rng.randint(0, 9)}.{rng.randint(0, 30)}", f"{rng.randint(1, 9)}.fc26"
    pkgid = hashlib.sha256(name.encode()).hexdigest()
    provides = "".join(
        f'<rpm:entry name="{escape(p)}" flags="EQ" epoch="0" ver="{version}" rel="{release}"/>'
        for p in [name, f"{name}(x86-64)", *(f"lib{name}.so.{i}()(64bit)" for i in range(rng.randint(0, 8)))]
    )
    needs = ["/bin/sh", "libc.so.6()(64bit)", *(f"lib{rng.randint(0, 5000)}.so()(64bit)" for _ in range(8))]
    requires = "".join(f'<rpm:entry name="{escape(r)}"/>' for r in needs)
    files = "".join(f"<file>/usr/bin/{name}-{i}</file>" for i in range(rng.randint(0, 3)))
    return (
        f'<package type="rpm"><name>{name}</name><arch>x86_64</arch>'
        f'<version epoch="0" ver="{version}" rel="{release}"/>'
        f'<checksum type="sha256" pkgid="YES">{pkgid}</checksum>'
        f"<summary>The {name} package</summary>"
        f"<description>{name} is built from {source}. " + "It does useful things. " * 12 + "</description>"
        f"<packager>Fedora Project</packager><url>https://example.org/{source}</url>"
        f'<time file="1500000000" build="1499990000"/>'
        f'<size package="{rng.randint(10**4, 10**7)}" installed="{rng.randint(10**4, 10**8)}" archive="0"/>'
        f'<location href="Packages/{name[0]}/{name}-{version}-{release}.x86_64.rpm"/>'
        f"<format><rpm:license>MIT</rpm:license><rpm:vendor>Fedora Project</rpm:vendor>"
        f"<rpm:group>Unspecified</rpm:group><rpm:buildhost>buildvm-01.phx2.fedoraproject.org</rpm:buildhost>"
        f"<rpm:sourcerpm>{source}-{version}-{release}.src.rpm</rpm:sourcerpm>"
        f'<rpm:header-range start="4504" end="{rng.randint(10**4, 10**6)}"/>'
        f"<rpm:provides>{provides}</rpm:provides><rpm:requires>{requires}</rpm:requires>{files}</format>"
        "</package>\n"
    )


def write_repo(root: Path, count: int, seed: int = 1) -> list[tuple[str, str]]:
    """A file:// repo of ``count`` packages under ``root``; return its (binary, source) pairs."""
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    while len(pairs) < count:
        source = f"pkg{len(pairs)}"
        for suffix in SUBPACKAGES[: rng.randint(1, len(SUBPACKAGES))]:
            pairs.append((source + suffix, source))
    pairs = pairs[:count]
    repodata = root / "repodata"
    repodata.mkdir(parents=True)
    primary = repodata / "primary.xml.gz"
    with gzip.open(primary, "wt", encoding="utf-8", compresslevel=6) as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common"'
            f' xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="{count}">\n'
        )
        for name, source in pairs:
            out.write(package_xml(name, source, rng))
        out.write("</metadata>\n")
    write_repomd(root, primary)
    return pairs


def write_repomd(root: Path, primary: Path) -> None:
    """A repomd.xml naming ``primary`` by its sha256."""
    checksum = hashlib.sha256(primary.read_bytes()).hexdigest()
    (root / "repodata" / "repomd.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo"'
        ' xmlns:rpm="http://linux.duke.edu/metadata/rpm"><revision>1</revision>'
        f'<data type="primary"><checksum type="sha256">{checksum}</checksum>'
        f'<location href="repodata/{primary.name}"/><size>{primary.stat().st_size}</size></data></repomd>\n'
    )


def median_seconds(action: Callable[[], None], runs: int) -> tuple[float, float]:
    """The median wall time and median CPU time of ``runs`` calls of ``action``.

    The CPU time is this process's own: on a busy machine it shows the work, the wall time the wait.
    """
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        action()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=60_000)
    parser.add_argument("--treefile", type=int, default=1_500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="treefile-sources-") as scratch:
        root = Path(scratch)
        start = time.perf_counter()
        pairs = write_repo(root / "repo", args.packages)
        size = (root / "repo" / "repodata" / "primary.xml.gz").stat().st_size
        print(f"wrote {args.packages} packages ({size / 2**20:.1f} MiB primary.xml.gz)"
              f" in {time.perf_counter() - start:.1f} s")
        binaries = [name for name, _ in random.Random(2).sample(pairs, args.treefile)]
        baseurls = [(root / "repo").as_uri()]
        cache = root / "cache"

        def cold() -> None:
            shutil.rmtree(cache, ignore_errors=True)
            source_packages(baseurls, binaries, cache)

        def cached() -> None:
            found = source_packages(baseurls, binaries, cache)
            assert not found.unresolved

        cold_s, cold_cpu = median_seconds(cold, args.runs)
        cached_s, cached_cpu = median_seconds(cached, args.runs * 4)
        print(f"cold:   median {cold_s * 1000:8.1f} ms (CPU {cold_cpu * 1000:8.1f} ms)"
              f" over {args.runs} runs (goal < 5000 ms)")
        print(f"cached: median {cached_s * 1000:8.1f} ms (CPU {cached_cpu * 1000:8.1f} ms)"
              f" over {args.runs * 4} runs (goal < 50 ms)")
        print(f"cold / cached: {cold_s / cached_s:.0f}x")


if __name__ == "__main__":
    main()
