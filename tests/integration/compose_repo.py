"""A small compose for deployment tests: an archive OSTree repo with one bootable commit, served over HTTP."""

from __future__ import annotations

import functools
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REF = "fedora/26/x86_64/atomic-host"
KERNEL_VERSION = "6.1.0-ci"


@dataclass(frozen=True)
class Compose:
    """The compose's repo, its commit and ref, and the URL it is served at."""

    repo: Path
    commit: str
    ref: str
    url: str


def commit_tree(repo: Path, tree: Path, subject: str) -> str:
    """Commit a tree with a kernel (``ostree admin deploy`` wants one) on :data:`REF`; return its checksum."""
    modules = tree / "usr/lib/modules" / KERNEL_VERSION
    modules.mkdir(parents=True, exist_ok=True)
    (modules / "vmlinuz").write_bytes(b"not a kernel: the lab host never boots it\n")
    (modules / "initramfs.img").write_bytes(b"not an initramfs\n")
    (tree / "usr/etc").mkdir(parents=True, exist_ok=True)
    (tree / "usr/etc/os-release").write_text(
        f'NAME="ci-pipeline test"\nID=citest\nPRETTY_NAME="ci-pipeline test ({subject})"\n'
    )
    done = subprocess.run(
        [
            "ostree",
            "commit",
            f"--repo={repo}",
            f"--branch={REF}",
            f"--subject={subject}",
            f"--tree=dir={tree}",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Say nothing."""


@contextmanager
def served_compose(directory: Path) -> Iterator[Compose]:
    """A compose in ``directory``, served over HTTP on 127.0.0.1 while the block runs."""
    repo = directory / "ostree"
    repo.mkdir(parents=True)
    subprocess.run(["ostree", "init", "--mode=archive", f"--repo={repo}"], check=True)
    commit = commit_tree(repo, directory / "tree", "first")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(repo)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Compose(repo=repo, commit=commit, ref=REF, url=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
