#!/usr/bin/env bash
set -xeuo pipefail

# Work around https://bugzilla.redhat.com/show_bug.cgi?id=1265295
echo 'Storage=persistent' >> /etc/systemd/journald.conf

# https://github.com/projectatomic/rpm-ostree/issues/1045
sed -i -e 's,^#\?PermitRootLogin.*,PermitRootLogin no,' /etc/ssh/sshd_config
