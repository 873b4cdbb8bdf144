#!/usr/bin/env bash
# Set up a development machine: system tools from Debian packages, then a virtualenv with the
# project installed in editable mode. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# The boot disk: gdisk (sgdisk), dosfstools and mtools (the ESP, unmounted), syslinux (BIOS),
# systemd-boot-efi (UEFI); ovmf is the UEFI firmware qemu boots it with. The example OS packages
# dropbear; openssh-client reaches the machines; xorriso writes iso9660 NoCloud seeds. rsync and
# util-linux's flock are what tmt runs on a machine over SSH: the example OS packages them too.
SYSTEM_PACKAGES=(git rpm createrepo-c dnf ostree qemu-system-x86 qemu-utils cpio busybox-static
                 linux-image-cloud-amd64 chromium gdisk dosfstools mtools syslinux syslinux-common
                 systemd-boot-efi ovmf dropbear-bin openssh-client xorriso rsync util-linux)

missing_packages() {
    local pkg
    for pkg in "${SYSTEM_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || echo "$pkg"
    done
}

install_system_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        echo "setup: no apt on this host; install these packages (or their equivalents) for the" \
             "build, compose and boot stages: ${SYSTEM_PACKAGES[*]}" >&2
        return 0
    fi
    local missing
    missing=$(missing_packages | tr '\n' ' ')
    [ -z "${missing// /}" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "setup: run as root, or install these packages first: $missing" >&2
        return 0
    fi
    echo "setup: installing $missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

install_python_env() {
    local stamp=.venv/.installed
    if [ ! -x .venv/bin/python ]; then
        python3 -m venv .venv
    fi
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        .venv/bin/python -m pip install -q --upgrade pip
        .venv/bin/python -m pip install -q -e '.[dev]'
        touch "$stamp"
    fi
}

# Greenwave's own policy code, in a virtualenv of its own (its pins clash with ours), is the reference
# the gating parity test compares decisions with.
install_greenwave_reference() {
    [ -x .venv-greenwave/bin/python ] && return 0
    python3 -m venv .venv-greenwave
    if ! .venv-greenwave/bin/python -m pip install -q greenwave; then
        echo "setup: greenwave could not be installed; the gating parity test will say so" >&2
    fi
}

# linch-pin (the linchpin provisioner), in a virtualenv of its own. Its release pins pyzmq 18 and
# needs click 7 and Ansible 2.9, which its code was written for; pyzmq 18 does not build on current
# Python, so linch-pin is installed without its pins, then the libraries its core and its dummy
# provider import (cloud providers need their own SDKs on top: boto3, openstacksdk, libvirt-python).
LINCHPIN_REQUIREMENTS=("ansible==2.9.27" "click<8" yamlordereddictloader six Cerberus tinydb requests
                       "urllib3<1.26" PyYAML jinja2 configparser "GitPython<3.1" gitdb future
                       "tqdm==4.36.1" pyzmq mock naked ipaddress pyasn1 pyopenssl setuptools)

install_linchpin() {
    [ -x .venv-linchpin/bin/linchpin ] && return 0
    python3 -m venv .venv-linchpin
    if ! .venv-linchpin/bin/python -m pip install -q --no-deps linchpin \
        || ! .venv-linchpin/bin/python -m pip install -q "${LINCHPIN_REQUIREMENTS[@]}"; then
        echo "setup: linch-pin could not be installed; the linchpin provisioner tests will say so" >&2
    fi
}

install_system_packages
install_python_env
install_greenwave_reference

# The fedmsg library (and the pyOpenSSL its X.509 backend still needs for CRLs), in a virtualenv of
# its own: the interoperability tests publish and consume with it on real ZeroMQ sockets.
install_fedmsg_reference() {
    [ -x .venv-fedmsg/bin/python ] && .venv-fedmsg/bin/python -c "import fedmsg, OpenSSL" 2>/dev/null && return 0
    python3 -m venv .venv-fedmsg
    if ! .venv-fedmsg/bin/python -m pip install -q fedmsg "pyOpenSSL<24.3" cryptography; then
        echo "setup: fedmsg could not be installed; the fedmsg interoperability tests will say so" >&2
    fi
}

install_fedmsg_reference

# tmt runs the packages' tmt plans; it lives in a virtualenv of its own so its dependencies do not
# fight ours, and ci-pipeline calls it as a tool (.venv-tmt/bin/tmt). Held to the minor release our
# plugins (src/ci_pipeline/stages/tmt/_plugins) were written against: they extend tmt's own classes.
TMT_VERSION="1.78.*"
install_tmt() {
    [ -x .venv-tmt/bin/tmt ] && return 0
    python3 -m venv .venv-tmt
    if ! .venv-tmt/bin/python -m pip install -q "tmt==$TMT_VERSION"; then
        echo "setup: tmt could not be installed; packages' tmt plans will not run" >&2
    fi
}

install_tmt
install_linchpin
