"""Reading treefiles: includes, refused values, a parser that never raises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.ostree.treefile import load_treefile, parse_treefile

REF = "fedora/f26/x86_64/atomic-host"


def test_treefile_with_include_adds_lists_and_overrides_scalars(tmp_path: Path) -> None:
    (tmp_path / "base.json").write_text(json.dumps({"ref": "a/b", "repos": ["base"], "packages": ["x y"]}))
    (tmp_path / "tree.json").write_text(json.dumps({"include": "base.json", "ref": REF, "packages": ["z"]}))
    treefile = load_treefile(tmp_path / "tree.json")
    assert treefile.ref == REF
    assert treefile.repos == ("base",)
    assert treefile.packages == ("x", "y", "z")
    assert treefile.repos_dirs == (tmp_path, tmp_path / "repos")


@pytest.mark.parametrize(
    "data",
    [[], {"ref": "../escape"}, {"ref": REF, "packages": "vim"}, {"ref": REF, "repos": ["a;rm -rf /"]}, {}],
)
def test_bad_treefiles_are_refused(data: object, tmp_path: Path) -> None:
    with pytest.raises(StageFailure):
        parse_treefile(data, tmp_path / "t.json")


def test_missing_treefile_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(StageFailure, match=r"trigger\.treefile"):
        load_treefile(tmp_path / "nope.json")


@given(st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=20), st.lists(st.text(max_size=10)))))
def test_treefile_parser_accepts_or_refuses_cleanly(data: dict[str, object]) -> None:
    try:
        treefile = parse_treefile({"ref": REF, **data}, Path("/t.json"))
    except StageFailure:
        return
    assert all(" " not in name and name for name in treefile.packages)


def test_the_ref_follows_the_message_schema_rule_up_to_its_length() -> None:
    longest = "/".join(["a" * 63] * 4)  # 255 characters: the longest ref a message can carry
    assert parse_treefile({"ref": longest}, Path("/t.json")).ref == longest
    with pytest.raises(StageFailure, match=r"has no valid 'ref': it must be an OSTree ref of at most 255"):
        parse_treefile({"ref": longest + "a"}, Path("/t.json"))
