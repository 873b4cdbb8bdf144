"""Wall time of the functional test stage against a bare run of the same tests on the same subject.

STI: a passing suite of 20 small tests (standard-test-basic) on a tiny OS (busybox shell + one
application, built with rpmbuild). The stage's time covers the dist-git clone, the fresh root
(dnf --installroot), ansible-playbook, results and artifacts; the bare run is ansible-playbook
alone, with the same environment, on a root prepared beforehand.

tmt: a plan of 20 small passing tests on the tiny OS of ``tests/integration/tmt_fixtures.py``. The
stage's time covers the clone, the metadata, the fresh root, ``tmt run`` in the sandbox, results
and artifacts; the bare run is the same ``tmt run`` command alone on a root prepared beforehand.
Prints medians and their ratios.

    .venv/bin/python benchmarks/test_stages.py [--repetitions 5] [--only sti|tmt]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

import test_test_stages as fx
import tmt_fixtures

from ci_pipeline.config import ArtifactsConfig, Config, DistGitConfig, TriggerConfig
from ci_pipeline.stages import functional
from ci_pipeline.stages.base import StageContext
from ci_pipeline.stages.sti.playbooks import ansible_environment, ansible_playbook_program, write_inventory
from ci_pipeline.stages.sti.subjects import functional_root
from ci_pipeline.stages.tmt.command import run_command, sandbox_provision, tmt_program
from ci_pipeline.stages.tmt.metadata import read_metadata
from ci_pipeline.stages.tmt.runner import run_tmt
from ci_pipeline.stages.tools import Deadline

TESTS = 20


def playbook() -> str:
    """A standard-test-basic playbook of TESTS small passing tests."""
    entries = "".join(
        f'    - check-{n:02d}:\n        dir: .\n        run: test "$(sti-app)" = "app ok" && test {n} -ge 0\n'
        for n in range(TESTS)
    )
    header = "- hosts: localhost\n  roles:\n  - role: standard-test-basic\n    tags: [classic]\n"
    return f"{header}    tests:\n{entries}"


def make_world(root: Path) -> tuple[Config, str]:
    """The tiny OS, its config, and the dist-git rev holding the playbook."""
    base_repo, build = root / "base", root / "rpmbuild"
    fx._rpm(
        build,
        "sti-shell",
        "1.fc26",
        fx._shell_install(),
        "/usr/bin/*\n/bin\n%dir /tmp\n%dir /var/tmp",
        "Provides: /bin/sh",
        base_repo,
    )
    app_install = (
        "install -d %{buildroot}/usr/bin\n"
        "printf '#!/bin/sh\\necho app ok\\n' > %{buildroot}/usr/bin/sti-app\n"
        "chmod 0755 %{buildroot}/usr/bin/sti-app\n"
    )
    app_repo = root / "artifacts" / fx.BRANCH / "repo" / "sti-app_repo"
    fx._rpm(
        build, "sti-app", "1.2.abcdef0.fc26", app_install, "/usr/bin/sti-app", "Requires: sti-shell", app_repo
    )
    (root / "treefile").mkdir()
    (root / "treefile" / "base.repo").write_text(f"[sti-base]\nbaseurl={base_repo.as_uri()}\ngpgcheck=0\n")
    (root / "treefile" / "treefile.json").write_text('{"ref": "a/b", "repos": ["sti-base"]}')
    bare, work = root / "git" / "rpms" / "sti-app.git", root / "work"
    fx._run(["git", "init", "--quiet", "--bare", "--initial-branch=master", str(bare)])
    fx._run(["git", "init", "--quiet", "--initial-branch=master", str(work)])
    (work / "tests").mkdir()
    (work / "tests" / "tests.yml").write_text(playbook())
    fx._run(["git", "add", "-A"], work)
    fx._run(["git", "commit", "--quiet", "-m", "tests"], work)
    fx._run(["git", "push", "--quiet", str(bare), "HEAD:master"], work)
    config = Config(state_dir=str(root / "state")).model_copy(
        update={
            "distgit": DistGitConfig(url=f"file://{root}/git/{{namespace}}/{{repo}}.git"),
            "artifacts": ArtifactsConfig(root=str(root / "artifacts"), base_url=fx.BASE_URL),
            "trigger": TriggerConfig(treefile=str(root / "treefile" / "treefile.json")),
        }
    )
    return config, fx._run(["git", "rev-parse", "HEAD"], work)


def context(config: Config, rev: str, where: Path) -> StageContext:
    """A fresh functional stage context."""
    where.mkdir(parents=True)
    (where / "work").mkdir()
    return StageContext(
        run_id=1,
        stage="functional",
        attempt=1,
        fields={
            "repo": "sti-app",
            "rev": rev,
            "branch": fx.BRANCH,
            "namespace": "rpms",
            "package_url": f"{fx.BASE_URL}/{fx.BRANCH}/repo/sti-app_repo/",
        },
        workdir=where / "work",
        artifacts_dir=where / "artifacts",
        artifacts_url="",
        log_path=where / "log",
        config=config,
        timeout=600.0,
    )


def time_stage(config: Config, rev: str, where: Path) -> float:
    """Seconds of one whole functional stage."""
    ctx = context(config, rev, where)
    started = time.perf_counter()
    result = functional.run_functional(ctx)
    elapsed = time.perf_counter() - started
    assert len(result.tests) == TESTS and {t.outcome for t in result.tests} == {"PASSED"}, result
    return elapsed


def time_bare(root: Path, tests_dir: Path, where: Path) -> float:
    """Seconds of ansible-playbook alone on the prepared root."""
    where.mkdir(parents=True)
    env = ansible_environment(
        str(root), where / "artifacts", write_inventory(where / "inv.json", root), where
    )
    (where / "artifacts").mkdir()
    started = time.perf_counter()
    subprocess.run(
        [ansible_playbook_program(), "--tags", "classic", "tests.yml"],
        cwd=tests_dir,
        env=env,
        check=True,
        capture_output=True,
    )
    elapsed = time.perf_counter() - started
    assert (where / "artifacts" / "test.log").read_text().count("PASS ") == TESTS
    return elapsed


def tmt_revision(world: tmt_fixtures.TmtWorld) -> str:
    """A dist-git revision of the tmt package holding one plan of TESTS passing tests."""
    work = world.root / "work"
    (work / "tests" / "main.fmf").write_text("".join(
        f'/check-{n:02d}:\n    test: test "$(tmt-app)" = "app ok" && test {n} -ge 0\n' for n in range(TESTS)
    ))
    (work / "plans" / "all.fmf").write_text(tmt_fixtures.PLAN)
    tmt_fixtures.run(["git", "add", "-A"], work)
    tmt_fixtures.run(["git", "commit", "--quiet", "-m", "benchmark"], work)
    tmt_fixtures.run(["git", "push", "--quiet", str(world.root / "git" / "rpms" / "tmt-app.git"),
                      f"HEAD:{tmt_fixtures.BRANCH}"], work)
    return tmt_fixtures.run(["git", "rev-parse", "HEAD"], work)


def time_tmt_stage(world: tmt_fixtures.TmtWorld, where: Path) -> float:
    """Seconds of one whole functional stage running the tmt plan."""
    where.mkdir(parents=True)
    ctx = tmt_fixtures.functional_context(world, where, "benchmark")
    started = time.perf_counter()
    result = functional.run_functional(ctx)
    elapsed = time.perf_counter() - started
    assert len(result.tests) == TESTS and {t.outcome for t in result.tests} == {"PASSED"}, result
    return elapsed


def time_tmt_bare(ctx: StageContext, checkout: Path, root: Path, where: Path) -> float:
    """Seconds of the same ``tmt run`` alone, on the prepared root."""
    where.mkdir(parents=True)
    requirements = read_metadata(checkout).requirements
    argv = run_command(tmt_program(), checkout, where / "run", sandbox_provision(root, requirements))
    started = time.perf_counter()
    run = run_tmt(argv, ctx, Deadline(600.0))
    elapsed = time.perf_counter() - started
    assert run.returncode == 0, run.output[-2000:]
    return elapsed


def measure_tmt(scratch: Path, repetitions: int) -> tuple[list[float], list[float]]:
    """The tmt stage's and bare tmt's times."""
    world = tmt_fixtures.make_world(scratch / "tmt-world")
    world.revs["benchmark"] = tmt_revision(world)
    time_tmt_stage(world, scratch / "tmt-warm-up")
    prepared_at = scratch / "tmt-prepared"
    prepared_at.mkdir()
    prepared = tmt_fixtures.functional_context(world, prepared_at, "benchmark")
    checkout = world.root / "work"
    functional.install_root(prepared, prepared.workdir / "root", [], read_metadata(checkout))
    stage, bare = [], []
    for n in range(repetitions):
        bare.append(time_tmt_bare(prepared, checkout, prepared.workdir / "root", scratch / f"tmt-bare-{n}"))
        stage.append(time_tmt_stage(world, scratch / f"tmt-stage-{n}"))
    return stage, bare


def report(title: str, stage: list[float], bare: list[float], what: str, bare_what: str) -> None:
    """Print the medians, the samples and the ratio."""
    stage_median, bare_median = statistics.median(stage), statistics.median(bare)
    print(title)
    print(f"  stage ({what}): median {stage_median:.2f} s  [{', '.join(f'{s:.2f}' for s in stage)}]")
    print(f"  {bare_what}: median {bare_median:.2f} s  [{', '.join(f'{s:.2f}' for s in bare)}]")
    print(f"  ratio stage / bare: {stage_median / bare_median:.2f}  (goal <= 1.2)")


def main() -> None:
    """Measure and print the medians and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--only", choices=("sti", "tmt"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as scratch:
        root = Path(scratch)
        if args.only != "tmt":
            config, rev = make_world(root / "world")
            # The warm-up fills dnf's metadata cache, as a running service has it.
            time_stage(config, rev, root / "warm-up")
            prepared = context(config, rev, root / "prepared")
            functional_root(prepared, prepared.workdir / "root", [])
            tests_dir = root / "world" / "work" / "tests"
            stage, bare = [], []
            for n in range(args.repetitions):
                bare.append(time_bare(prepared.workdir / "root", tests_dir, root / f"bare-{n}"))
                stage.append(time_stage(config, rev, root / f"stage-{n}"))
            report(f"functional stage, STI, {TESTS} tests, {args.repetitions} repetitions", stage, bare,
                   "clone + dnf root + ansible + results", "bare ansible-playbook")
        if args.only != "sti":
            stage, bare = measure_tmt(root, args.repetitions)
            report(f"functional stage, tmt, {TESTS} tests, {args.repetitions} repetitions", stage, bare,
                   "clone + fmf + dnf root + tmt run + results", "bare tmt run")


if __name__ == "__main__":
    main()
