"""Binary -> source mapping on a real createrepo_c repository of RPMs built here with rpmbuild."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_pipeline.example.rpmbuild import built_rpms, createrepo, rpmbuild
from ci_pipeline.repodata import source_packages

pytestmark = pytest.mark.integration

# One source package, three binaries, as openssh gives openssh, -server and -clients.
SPEC = """\
Name:           sshdemo
Version:        7.5p1
Release:        3%{?dist}
Summary:        A demo of one source package with subpackages
License:        MIT
BuildArch:      noarch

%description
Demo.

%package server
Summary:        The server part
Provides:       demo-daemon = %{version}-%{release}

%description server
Server.

%package clients
Summary:        The client part

%description clients
Clients.

%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/sbin
echo '#!/bin/sh' > %{buildroot}/usr/bin/sshdemo
echo '#!/bin/sh' > %{buildroot}/usr/sbin/sshdemod
chmod 755 %{buildroot}/usr/bin/sshdemo %{buildroot}/usr/sbin/sshdemod

%files
%files server
/usr/sbin/sshdemod
%files clients
/usr/bin/sshdemo
"""


def test_createrepo_metadata_maps_subpackages_and_provides_to_the_source(tmp_path: Path) -> None:
    spec = tmp_path / "sshdemo.spec"
    spec.write_text(SPEC)
    topdir = tmp_path / "rpmbuild"
    rpmbuild(spec, [], topdir)
    repo = tmp_path / "repo"
    repo.mkdir()
    for rpm in built_rpms(topdir):
        rpm.rename(repo / rpm.name)
    assert sorted(p.name.split("-7.5p1")[0] for p in repo.glob("*.rpm")) == [
        "sshdemo",
        "sshdemo-clients",
        "sshdemo-server",
    ]
    createrepo(repo)
    binaries = ["sshdemo-server", "sshdemo-clients", "demo-daemon", "/usr/bin/sshdemo", "vim-minimal"]
    found = source_packages([repo.as_uri()], binaries, tmp_path / "cache")
    assert found.sources == {"sshdemo"}
    assert found.why("sshdemo") == ("/usr/bin/sshdemo", "demo-daemon", "sshdemo-clients", "sshdemo-server")
    assert found.unresolved == {"vim-minimal"}
