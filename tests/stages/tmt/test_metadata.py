"""A checkout's tmt metadata: whether it has plans, and which requirements are installed first."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.tmt.metadata import has_tmt_metadata, read_metadata
from fmf_trees import fmf_tree


def test_plans_and_every_installable_requirement_are_found(tmp_path: Path) -> None:
    tree = fmf_tree(tmp_path, {
        "plans/smoke.fmf": "discover: {how: fmf}\nexecute: {how: tmt}\n"
                           "prepare:\n  - how: install\n    package: [httpd, 'mod_ssl']\n  - how: shell\n"
                           "    script: echo\n",
        "tests/main.fmf": "/a:\n  test: 'true'\n  require: [curl, /usr/bin/jq, 'library(openssl/certgen)']\n"
                          "  recommend: wget\n/b:\n  test: 'true'\n  require:\n    - curl\n"
                          "    - {url: 'https://example.org/lib', name: /x}\n    - '--nogpgcheck'\n",
    })
    assert has_tmt_metadata(tree)
    metadata = read_metadata(tree)
    assert metadata.plans == ("/plans/smoke",)
    assert metadata.requirements == ("httpd", "mod_ssl", "curl", "/usr/bin/jq", "wget")


def test_a_checkout_without_fmf_has_no_tmt_metadata(tmp_path: Path) -> None:
    assert not has_tmt_metadata(tmp_path)


def test_unreadable_metadata_is_a_stage_failure_saying_so(tmp_path: Path) -> None:
    tree = fmf_tree(tmp_path, {"plans/x.fmf": "execute: [unclosed\n"})
    with pytest.raises(StageFailure, match="tmt metadata cannot be read"):
        read_metadata(tree)
