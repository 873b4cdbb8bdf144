"""Machines booted from an image: overlays, NoCloud seeds, SSH, a private network, teardown.

:mod:`.cluster` boots and stops them, :mod:`.qemu` builds one machine's qemu, :mod:`.seed` its
cloud-init seed, :mod:`.ssh` reaches it, :mod:`.accel` picks KVM or TCG. Any cloud image that reads
a NoCloud seed and runs an SSH server boots through the same code. Stages get such machines through
the qemu provisioner (:mod:`ci_pipeline.provision.qemu`); :mod:`.ssh` is the one SSH client of every
provisioner's hosts.
"""
