"""Writing yum repo metadata (repomd.xml and primary.xml) in createrepo_c's shape, for tests."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import zstandard

Package = tuple[str, str, Sequence[str], Sequence[str]]  # name, sourcerpm, provides, files

OPENSSH = [
    ("openssh", "openssh-7.5p1-3.fc26.src.rpm", ["openssh", "openssh(x86-64)"], []),
    ("openssh-server", "openssh-7.5p1-3.fc26.src.rpm", ["openssh-server", "config(openssh-server)"],
     ["/usr/sbin/sshd"]),
    ("openssh-clients", "openssh-7.5p1-3.fc26.src.rpm", ["openssh-clients"], ["/usr/bin/ssh"]),
    ("vim-minimal", "vim-8.0.586-1.fc26.src.rpm", ["vim-minimal", "vi"], ["/usr/bin/vi"]),
    ("kubernetes-node", "kubernetes-1.5.3-1.fc26.src.rpm", ["kubernetes-node"], []),
]


def primary_xml(packages: Sequence[Package]) -> bytes:
    """A primary.xml in createrepo_c's shape (namespaces, format section, provides, requires)."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common"'
        f' xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="{len(packages)}">'
    ]
    for name, sourcerpm, provides, files in packages:
        entries = "".join(f"<rpm:entry name={quoteattr(p)} flags=\"EQ\" ver=\"1\"/>" for p in provides)
        out.append(
            f'<package type="rpm"><name>{escape(name)}</name><arch>x86_64</arch>'
            '<version epoch="0" ver="1" rel="1"/><summary>s &amp; t</summary>'
            f'<location href="Packages/{escape(name)}.rpm"/><format><rpm:license>MIT</rpm:license>'
            f"<rpm:sourcerpm>{escape(sourcerpm)}</rpm:sourcerpm><rpm:provides>{entries}</rpm:provides>"
            '<rpm:requires><rpm:entry name="/bin/sh" pre="1"/><rpm:entry name="glibc"/></rpm:requires>'
            + "".join(f"<file>{escape(f)}</file>" for f in files)
            + "</format></package>"
        )
    out.append("</metadata>\n")
    return "\n".join(out).encode()


def write_repo(root: Path, packages: Sequence[Package], compress: str = "gz") -> Path:
    """A yum repo's repodata under ``root`` (primary only, as the mapping needs); return ``root``."""
    data = primary_xml(packages)
    packers = {
        "gz": gzip.compress, "xz": lzma.compress, "bz2": bz2.compress, "zst": zstandard.compress, "": bytes
    }
    packed = packers[compress](data)
    name = f"{hashlib.sha256(packed).hexdigest()}-primary.xml" + (f".{compress}" if compress else "")
    repodata = root / "repodata"
    repodata.mkdir(parents=True, exist_ok=True)
    for old in repodata.glob("*primary*"):
        old.unlink()
    (repodata / name).write_bytes(packed)
    (repodata / "repomd.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><repomd xmlns="http://linux.duke.edu/metadata/repo">'
        '<data type="filelists"><checksum type="sha256">00</checksum>'
        '<location href="repodata/f.xml.gz"/></data>'
        f'<data type="primary"><checksum type="sha256">{hashlib.sha256(packed).hexdigest()}</checksum>'
        f'<location href="repodata/{name}"/></data></repomd>'
    )
    return root
