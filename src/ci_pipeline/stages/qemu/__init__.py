"""Booting the image under qemu: the disk, the initramfs, the command line, the console, e2e machines."""
