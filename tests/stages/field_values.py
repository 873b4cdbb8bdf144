"""Run fields the stage tests share: a good Fedora change, and hostile values for each field."""

from __future__ import annotations

GOOD = {
    "repo": "vim",
    "rev": "591b0d2fc67a45e4ad13bdc3e312d5554852426a",
    "branch": "f26",
    "namespace": "rpms",
}


HOSTILE = [
    ("repo", "../../etc"),
    ("repo", "vim; rm -rf /"),
    ("repo", "-u"),
    ("repo", "vim/../x"),
    ("repo", ""),
    ("rev", "HEAD"),
    ("rev", "--upload-pack=touch /tmp/x"),
    ("rev", "591b0d2fc67a45e4ad13bdc3e312d5554852426a\n"),
    ("branch", "../f26"),
    ("branch", "f26/x"),
    ("branch", "f26..x"),
    ("namespace", "rpms/../.."),
    ("namespace", "$(id)"),
]
