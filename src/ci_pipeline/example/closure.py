"""A Debian binary and every shared library it loads, laid out as they go into the example OS.

The example OS has no C library of its own: the packages that carry a dynamically linked program
from the build host (Debian's dropbear, ostree, rpm) carry its whole ``ldd`` closure with it. Each
file keeps the place Debian gives it, moved under ``/usr`` (the OS is usr-merged, ``/lib`` links to
``usr/lib``): ``/usr/sbin/dropbear``, ``/usr/lib/x86_64-linux-gnu/libz.so.1`` (named by its soname,
the content of the file the link resolves to), ``/usr/lib64/ld-linux-x86-64.so.2`` (the loader the
binary names). Debian's loader searches ``/lib/x86_64-linux-gnu`` without any ``ld.so.cache``, so
the programs run as they are. Packages that share a library ship identical files, which rpm allows.

Members are named ``root/<path in the OS>``; the spec copies ``root/`` into its buildroot, and its
``%check`` runs :data:`CHECK_SCRIPT` (``check-closure`` in the tarball), which fails when a program
would load a library from outside the package.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from ci_pipeline.errors import InfrastructureError

#: The folder of a source tarball that mirrors the file system of the example OS.
ROOT = "root"
#: The ``%check`` script of the packages made of closures.
CHECK_SCRIPT = Path(__file__).resolve().parent / "check-closure"
# "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)", "/lib64/ld-linux-x86-64.so.2 (0x...)",
# "linux-vdso.so.1 (0x...)" (in the kernel: nothing to ship), "libfoo.so.2 => not found".
_LINKED = re.compile(r"^\s*(\S+) => (not found|\S+)(?: \(0x[0-9a-f]+\))?\s*$")
_LOADER = re.compile(r"^\s*(/\S+) \(0x[0-9a-f]+\)\s*$")
_VDSO = re.compile(r"^\s*linux-(vdso|gate)\.so\.\d+ \(0x[0-9a-f]+\)\s*$")


def os_path(host_path: str) -> str:
    """Where a host file goes in the usr-merged example OS: ``/lib/x`` -> ``/usr/lib/x``."""
    path = PurePosixPath(host_path)
    if not path.is_absolute() or ".." in path.parts:
        raise InfrastructureError(f"{host_path!r} is not an absolute path of the build host.")
    return str(path if path.parts[1:2] == ("usr",) else PurePosixPath("/usr", *path.parts[1:]))


def parse_ldd(output: str, binary: Path) -> dict[str, Path]:
    """Path in the OS -> host file, for every library and the loader that ``ldd binary`` printed."""
    found: dict[str, Path] = {}
    for line in output.splitlines():
        if not line.strip() or _VDSO.match(line):
            continue
        if linked := _LINKED.match(line):
            soname, target = linked[1], linked[2]
            if target == "not found":
                raise InfrastructureError(f"{binary} needs {soname}, which the build host does not have.")
            found[os_path(str(PurePosixPath(target).parent / soname))] = Path(target)
        elif loader := _LOADER.match(line):
            found[os_path(loader[1])] = Path(loader[1])
        else:
            raise InfrastructureError(f"ldd printed a line this build cannot read for {binary}: {line!r}")
    return found


def library_closure(binary: Path) -> dict[str, Path]:
    """The libraries and loader ``binary`` needs (path in the OS -> host file), from ``ldd``."""
    if not binary.is_file():
        raise InfrastructureError(f"{binary} is missing; run scripts/setup.sh to install it.")
    try:
        done = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise InfrastructureError("ldd is not installed; install Debian's libc-bin.") from exc
    if done.returncode != 0:
        raise InfrastructureError(f"{binary} is not a dynamically linked program: {done.stderr.strip()}")
    return parse_ldd(done.stdout, binary)


def closure_members(binaries: Iterable[str], files: Iterable[str] = ()) -> dict[str, Path]:
    """Tarball member -> host file: ``binaries`` with their closures, and ``files`` (data) as they are."""
    members: dict[str, Path] = {}
    for name in binaries:
        binary = Path(name)
        members[f"{ROOT}{os_path(name)}"] = binary.resolve()
        for path, library in library_closure(binary).items():
            members[f"{ROOT}{path}"] = library.resolve()
    for name in files:
        data = Path(name)
        if not data.is_file():
            raise InfrastructureError(f"{data} is missing; run scripts/setup.sh to install it.")
        members[f"{ROOT}{os_path(name)}"] = data.resolve()
    return members
