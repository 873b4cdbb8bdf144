"""A small cloud guest for the machine layer's tests: a bootable disk that keeps the guest contract.

The disk is a FAT volume with syslinux (BIOS boot, no partition table), this host's kernel and an
initramfs that is the whole system: busybox, Debian's dropbear and the virtio and vfat modules. Its
init reads the NoCloud seed (LABEL=cidata): the host name, root's authorized keys, static LAN
addresses by MAC (DHCP on the first card), then starts dropbear on port 22. ``ostree admin status``
and ``rpm -q`` answer with the commit and packages the test chose, as a deployed tree would.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

from ci_pipeline.example.host import find_busybox, find_kernel

DROPBEAR = Path("/usr/sbin/dropbear")
SYSLINUX_CFG = """DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL vmlinuz
  INITRD initrd.img
  APPEND console=ttyS0 quiet loglevel=3 panic=-1 tsc=reliable no_timer_check
"""

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin && /bin/busybox rm -f /bin/rpm
export PATH=/bin:/usr/bin
mkdir -p /proc /sys /dev /run /tmp /seed /root /var/log /etc/dropbear
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts; mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /tmp
while read -r module; do insmod "/lib/modules/$module.ko"; done < /lib/modules/load.order
tries=0
until seed=$(findfs LABEL=cidata 2>/dev/null) || [ $tries -gt 100 ]; do tries=$((tries + 1)); sleep 0.05; done
mount -t vfat -o ro "$seed" /seed
hostname "$(sed -n 's/^local-hostname: *//p' /seed/meta-data)"
mkdir -p /root/.ssh && chmod 700 /root/.ssh
[ -n "$CI_TEST_NO_KEYS" ] || sed -n 's/^ *- *\(ssh-.*\)$/\1/p' /seed/user-data > /root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys 2>/dev/null
ip link set lo up
for dev in /sys/class/net/eth*; do
    name=${dev##*/}; mac=$(cat "$dev/address")
    ip link set "$name" up
    address=$(awk -v mac="\"$mac\"" '$1 == "macaddress:" { found = ($2 == mac) }
        found && $1 == "addresses:" { gsub(/[][]/, "", $2); print $2; exit }' \
        /seed/network-config 2>/dev/null)
    if [ -n "$address" ]; then ip addr add "$address" dev "$name"
    elif [ "$name" = eth0 ]; then udhcpc -q -n -i eth0 -s /etc/udhcpc.script >/dev/null 2>&1
    fi
done
[ -n "$CI_TEST_NO_SSHD" ] || dropbear -R -p 22 -E 2>>/var/log/dropbear.log
exec /bin/sh -c 'while :; do sleep 3600; done'
"""

UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in bound|renew)
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route add default via "${router%% *}" ;;
esac
exit 0
"""


def build_test_guest(
    workdir: Path, *, commit: str, rpms: list[str], sshd: bool = True, keys: bool = True
) -> Path:
    """Write the test guest's disk to ``workdir/guest.qcow2``: it boots, answers SSH, reports ``commit``."""
    tree = workdir / "initramfs"
    for directory in ("bin", "usr/bin", "etc", "lib/modules", "lib64", "lib/x86_64-linux-gnu"):
        (tree / directory).mkdir(parents=True, exist_ok=True)
    shutil.copy2(find_busybox(), tree / "bin/busybox")
    shutil.copy2(DROPBEAR, tree / "bin/dropbear")
    for library in _libraries(DROPBEAR):
        shutil.copy2(library, tree / library.relative_to("/"))
    kernel = find_kernel()  # with the modules of a guest's initramfs: virtio, vfat, packet sockets
    modules = kernel.modules
    for module in modules:
        shutil.copy2(module, tree / "lib/modules" / module.name)
    (tree / "lib/modules/load.order").write_text("".join(f"{m.name[:-3]}\n" for m in modules))
    flags = ("" if sshd else "CI_TEST_NO_SSHD=1\n") + ("" if keys else "CI_TEST_NO_KEYS=1\n")
    _write(tree / "init", INIT.replace("export PATH", f"{flags}export PATH"), 0o755)
    _write(tree / "etc/udhcpc.script", UDHCPC_SCRIPT, 0o755)
    _write(tree / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
    _write(tree / "etc/shadow", "root:*:19000:0:99999:7:::\n", 0o600)
    _write(tree / "etc/group", "root:x:0:\n")
    _write(tree / "etc/shells", "/bin/sh\n")
    status = f"* ci-example {commit}.0\n    origin refspec: ci-example:fedora/26/x86_64/atomic-host\n"
    _write(
        tree / "usr/bin/ostree",
        f"#!/bin/sh\n[ \"$*\" = 'admin status' ] && printf %s {shlex.quote(status)}\n",
        0o755,
    )
    known = " ".join(rpms)
    rpm = (
        f'#!/bin/sh\n[ "$1" = -q ] || exit 2\nshift\nfor p; do case " {known} " in *" $p "*) echo "$p" ;;'
        ' *) echo "package $p is not installed"; exit 1 ;; esac; done\n'
    )
    _write(tree / "usr/bin/rpm", rpm, 0o755)
    initrd = workdir / "initrd.img"
    subprocess.run(
        f"cd {shlex.quote(str(tree))} && find . | cpio -o -H newc --quiet -R 0:0"
        f" | gzip -1 > {shlex.quote(str(initrd))}",
        shell=True,
        check=True,
    )
    raw = workdir / "guest.raw"
    raw.unlink(missing_ok=True)
    (workdir / "syslinux.cfg").write_text(SYSLINUX_CFG)
    size_kib = (kernel.vmlinuz.stat().st_size + initrd.stat().st_size) // 1024 + 4096
    subprocess.run(["mkfs.fat", "-C", str(raw), str(size_kib)], check=True, capture_output=True)
    subprocess.run(["syslinux", "--install", str(raw)], check=True)
    for source, name in (
        (kernel.vmlinuz, "vmlinuz"),
        (initrd, "initrd.img"),
        (workdir / "syslinux.cfg", "syslinux.cfg"),
    ):
        subprocess.run(["mcopy", "-i", str(raw), str(source), f"::{name}"], check=True)
    image = workdir / "guest.qcow2"
    subprocess.run(["qemu-img", "convert", "-q", "-O", "qcow2", str(raw), str(image)], check=True)
    raw.unlink()
    return image


def _libraries(program: Path) -> list[Path]:
    """The shared libraries ``program`` loads (and the dynamic loader), as ldd lists them."""
    out = subprocess.run(["ldd", str(program)], check=True, capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        words = line.split()
        path = words[2] if "=>" in words and len(words) > 2 else words[0]
        if path.startswith("/"):
            found.append(Path(path))
    return found


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)
