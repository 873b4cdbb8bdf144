"""The treefile reader: real-world treefiles, includes and their merge rules, variables, repos, keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.errors import ConfigError
from ci_pipeline.treefile import load_treefile, merge_treefiles, parse_treefile
from ci_pipeline.treefile_keys import FIXED_VALUES, HONOURED, IGNORED
from ci_pipeline.treefile_repos import read_repo_files

DATA = Path(__file__).parent / "data" / "treefiles"
ATOMIC = DATA / "fedora-atomic" / "fedora-atomic-host.json"
WORKSTATION = DATA / "workstation-ostree-config" / "fedora-workstation.yaml"


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_fedora_atomic_host_split_into_includes() -> None:
    treefile = load_treefile(ATOMIC, basearch="x86_64", releasever="26")
    assert treefile.ref == "fedora/26/x86_64/atomic-host"
    assert treefile.osname == "fedora-atomic"
    # Of several includes, the later one's lists come first (rpm-ostree's order).
    assert treefile.packages[:2] == ("docker", "atomic")
    assert {"kernel", "openssh-server", "openssh-clients", "grub2", "microcode_ctl"} <= set(treefile.packages)
    assert "shim" in treefile.packages and "efibootmgr" in treefile.packages
    assert treefile.units == (
        "docker.service",
        "docker-storage-setup.service",
        "sshd.service",
        "cloud-init.service",
    )
    assert treefile.exclude_packages == ("python2-dnf",)
    assert treefile.default_target == "multi-user.target"
    assert treefile.documentation is False
    assert treefile.postprocess_script == DATA / "fedora-atomic" / "treecompose-post.sh"
    assert treefile.remove_from_packages[0] == ("yum", ("/usr/bin/.*",))
    assert treefile.remove_files == ("usr/share/info",)
    assert treefile.etc_group_members == ("wheel", "docker")
    assert set(treefile.unapplied) == {
        "selinux",
        "boot_location",
        "initramfs-args",
        "install-langs",
        "check-passwd",
        "check-groups",
        "ignore-removed-users",
        "ignore-removed-groups",
    }
    assert {key for key, _ in treefile.ignored} == {
        "comment",
        "gpg_key",
        "automatic_version_prefix",
        "mutate-os-release",
    }


def test_other_architectures_take_their_own_packages_and_ref() -> None:
    treefile = load_treefile(ATOMIC, basearch="aarch64", releasever="26")
    assert treefile.ref == "fedora/26/aarch64/atomic-host"
    assert "grub2-efi" in treefile.packages and "microcode_ctl" not in treefile.packages
    assert not any(key.startswith("packages-") for key in treefile.unapplied)


def test_fedora_repos_are_read_from_the_repo_files_beside_the_treefile() -> None:
    treefile = load_treefile(ATOMIC, basearch="x86_64", releasever="26")
    assert treefile.repo_ids == ("fedora-26", "fedora-26-updates")
    fedora, updates = treefile.repos
    assert fedora.baseurl is None
    assert fedora.metalink == "https://mirrors.fedoraproject.org/metalink?repo=fedora-26&arch=x86_64"
    assert updates.baseurl == "https://dl.fedoraproject.org/pub/fedora/linux/updates/26/x86_64/"
    assert not updates.enabled and updates.gpgcheck
    assert treefile.repo_urls == [("fedora-26-updates", updates.baseurl)]


def test_workstation_yaml_with_nested_includes() -> None:
    treefile = load_treefile(WORKSTATION, basearch="x86_64", releasever="30")
    assert treefile.ref == "fedora/30/x86_64/workstation"
    assert treefile.packages[0] == "NetworkManager"  # the deepest include's first
    assert {"kernel-modules-extra", "glibc-langpack-en", "shim-x64", "fedora-release-workstation"} <= set(
        treefile.packages
    )
    assert "shim-aa64" not in treefile.packages
    assert treefile.default_target == "graphical.target"
    # An included file's scripts run before the including file's.
    assert len(treefile.postprocess) == 2 and "machine-id" in treefile.postprocess[0]
    assert treefile.repo_urls == [
        (
            "fedora-rawhide",
            "https://kojipkgs.fedoraproject.org/compose/rawhide/latest-Fedora-Rawhide/compose/Everything/x86_64/os/",
        )
    ]
    assert "tmp-is-dir" not in treefile.unapplied  # true is what the compose does anyway
    assert "boot-location" in treefile.unapplied  # "new" is not
    assert dict(treefile.ignored)["rojig"]


def test_includes_merge_lists_maps_and_scalars(tmp_path: Path) -> None:
    _write(
        tmp_path / "a.json",
        {"ref": "a/ref", "packages": ["a"], "units": ["a.service"], "variables": {"x": "1"}},
    )
    _write(
        tmp_path / "b.json", {"packages": ["b"], "documentation": False, "variables": {"x": "2", "y": "b"}}
    )
    top = _write(
        tmp_path / "top.json",
        {"include": ["a.json", "b.json"], "ref": "os/${x}/${y}", "packages": ["top"], "documentation": True},
    )
    treefile = load_treefile(top)
    assert treefile.packages == ("b", "a", "top")
    assert treefile.documentation is True
    # Each include is merged under what came before it: the earlier include's scalars win.
    assert treefile.ref == "os/1/b"


def test_an_include_cycle_is_one_clear_error(tmp_path: Path) -> None:
    _write(tmp_path / "a.json", {"include": "b.json", "ref": "a/b"})
    _write(tmp_path / "b.json", {"include": "a.json"})
    with pytest.raises(
        ConfigError, match=r"includes itself in a cycle: .*a\.json -> .*b\.json -> .*a\.json\.$"
    ):
        load_treefile(tmp_path / "a.json")


def test_including_one_file_twice_is_refused(tmp_path: Path) -> None:
    _write(tmp_path / "common.json", {"packages": ["x"]})
    _write(tmp_path / "mid.json", {"include": "common.json"})
    _write(tmp_path / "top.json", {"include": ["mid.json", "common.json"], "ref": "a/b"})
    with pytest.raises(ConfigError, match="included twice"):
        load_treefile(tmp_path / "top.json")


def test_a_missing_include_names_the_including_file(tmp_path: Path) -> None:
    _write(tmp_path / "top.json", {"include": "gone.json", "ref": "a/b"})
    with pytest.raises(ConfigError, match=r"gone\.json \(included from .*top\.json\) does not exist"):
        load_treefile(tmp_path / "top.json")


def test_arch_include_is_taken_for_the_basearch_only(tmp_path: Path) -> None:
    _write(tmp_path / "x86.json", {"packages": ["grub2"]})
    _write(
        tmp_path / "top.json", {"arch-include": {"x86_64": "x86.json", "s390x": "s390.json"}, "ref": "a/b"}
    )
    assert load_treefile(tmp_path / "top.json").packages == ("grub2",)
    assert load_treefile(tmp_path / "top.json", basearch="ppc64le").packages == ()


def test_releasever_comes_from_the_treefile_before_the_branch(tmp_path: Path) -> None:
    top = _write(tmp_path / "t.json", {"ref": "fedora/${releasever}/${basearch}/atomic-host"})
    assert load_treefile(top, releasever="27").ref == "fedora/27/x86_64/atomic-host"
    _write(top, {"ref": "fedora/${releasever}/x", "releasever": 26})
    assert load_treefile(top, releasever="27").ref == "fedora/26/x"
    assert load_treefile(top).releasever == "26"


def test_an_unset_variable_is_an_error_that_says_what_to_set(tmp_path: Path) -> None:
    top = _write(tmp_path / "t.json", {"ref": "fedora/${releasever}/x"})
    with pytest.raises(ConfigError, match=r"uses \$\{releasever\}, which has no value \(set releasever"):
        load_treefile(top)


def test_repo_files_substitute_variables_and_list_every_base_url(tmp_path: Path) -> None:
    (tmp_path / "r.repo").write_text(
        "[one]\nbaseurl=file:///srv/$releasever/${basearch}/ http://mirror/$basearch/\nenabled=1\ngpgcheck=0\n"
        "[two]\nmirrorlist=https://mirrors/?arch=$basearch\nenabled=0\n",
        encoding="utf-8",
    )
    repos = read_repo_files([tmp_path], {"basearch": "ppc64le", "releasever": "26"})
    assert repos["one"].baseurls == ("file:///srv/26/ppc64le/", "http://mirror/ppc64le/")
    assert repos["two"].baseurl is None and repos["two"].mirrorlist == "https://mirrors/?arch=ppc64le"
    top = _write(tmp_path / "t.json", {"ref": "a/b"})
    # Without 'repos', the enabled repos are used, as rpm-ostree does.
    assert load_treefile(top).repo_ids == ("one",)


def test_a_repo_no_file_defines_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "r.repo").write_text("[base]\nbaseurl=file:///srv/base\n", encoding="utf-8")
    top = _write(tmp_path / "t.json", {"ref": "a/b", "repos": ["base", "updates"]})
    with pytest.raises(
        ConfigError, match=r"names the repo 'updates', which no \.repo file .*\(defined: base\)"
    ):
        load_treefile(top)


@pytest.mark.parametrize("url", ["ftp://host/repo", "file:///a b,", "javascript:alert(1)"])
def test_a_repo_url_of_another_kind_is_refused(tmp_path: Path, url: str) -> None:
    (tmp_path / "r.repo").write_text(f"[base]\nbaseurl={url}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[base\] .* not a file://, http:// or https:// URL"):
        read_repo_files([tmp_path], {})


def test_unknown_keys_are_reported_not_dropped(tmp_path: Path) -> None:
    top = _write(tmp_path / "t.json", {"ref": "a/b", "frobnicate": True, "comment": "x", "selinux": False})
    treefile = load_treefile(top)
    assert treefile.unapplied == ("frobnicate",)
    assert treefile.ignored == (("comment", "a comment"),)


@pytest.mark.parametrize(
    "data",
    [
        {"ref": "../escape"},
        {"ref": "a/b", "packages": "vim"},
        {"ref": "a/b", "packages": ["-rf"]},
        {"ref": "a/b", "repos": ["a;rm -rf /"]},
        {"ref": "a/b", "remove-files": ["usr/../../etc"]},
        {"ref": "a/b", "add-files": [["x", "/usr/../.."]]},
        {"ref": "a/b", "remove-from-packages": [["kernel", "("]]},
        {"ref": "a/b", "units": ["../x.service"]},
        {"ref": "a/b", "default-target": "multi-user"},
        {"ref": "a/b", "documentation": "no"},
        {"ref": "a/b", "packages": ["vim"], "exclude-packages": ["vim"]},
        {},
    ],
)
def test_bad_treefiles_are_refused(data: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        parse_treefile(data, tmp_path / "t.json")


def test_files_a_treefile_names_are_relative_to_that_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    _write(
        tmp_path / "sub" / "inc.json", {"add-files": [["motd", "/etc/motd"]], "postprocess-script": "post.sh"}
    )
    top = _write(tmp_path / "t.json", {"include": "sub/inc.json", "ref": "a/b"})
    treefile = load_treefile(top)
    assert treefile.add_files == ((tmp_path / "sub" / "motd", "/etc/motd"),)
    assert treefile.postprocess_script == tmp_path / "sub" / "post.sh"
    _write(tmp_path / "sub" / "inc.json", {"add-files": [["../secret", "/etc/motd"]]})
    with pytest.raises(ConfigError, match="is not beside it"):
        load_treefile(top)


def test_invalid_yaml_and_json_are_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("ref: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"t\.yaml is not valid YAML"):
        load_treefile(tmp_path / "t.yaml")
    (tmp_path / "t.json").write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"t\.json is not valid JSON"):
        load_treefile(tmp_path / "t.json")


_values = st.one_of(st.integers(), st.text(max_size=5), st.booleans())
_documents = st.dictionaries(
    st.sampled_from(["packages", "units", "ref", "documentation", "variables", "other"]),
    st.one_of(
        _values, st.lists(_values, max_size=3), st.dictionaries(st.text(max_size=3), _values, max_size=3)
    ),
    max_size=6,
)


@given(_documents, _documents)
def test_merge_rules(base: dict[str, Any], child: dict[str, Any]) -> None:
    merged = merge_treefiles(base, child)
    assert set(merged) == set(base) | set(child)
    for key, value in merged.items():
        old, new = base.get(key), child.get(key)
        if key not in child:
            assert value == old
        elif isinstance(old, list) and isinstance(new, list):
            assert value == old + new
        elif isinstance(old, dict) and isinstance(new, dict):
            assert value == {**old, **new}
        else:
            assert value == new
    assert base == merge_treefiles(base, {}) and child == merge_treefiles({}, child)


@given(_documents, _documents, _documents)
def test_merging_lists_is_associative(a: dict[str, Any], b: dict[str, Any], c: dict[str, Any]) -> None:
    lists = {k: v for k, v in a.items() if isinstance(v, list)}
    more = {k: v for k, v in b.items() if isinstance(v, list)}
    last = {k: v for k, v in c.items() if isinstance(v, list)}
    assert merge_treefiles(merge_treefiles(lists, more), last) == merge_treefiles(
        lists, merge_treefiles(more, last)
    )


@given(
    st.dictionaries(st.text(max_size=12), st.one_of(_values, st.lists(st.one_of(_values, st.lists(_values)))))
)
def test_the_parser_accepts_or_refuses_cleanly(data: dict[str, Any]) -> None:
    try:
        treefile = parse_treefile({"ref": "fedora/26/x86_64/atomic-host", **data}, Path("/nowhere/t.json"))
    except ConfigError:
        return
    assert all(name and " " not in name.split(" ")[0] for name in treefile.packages)
    assert set(treefile.unapplied).isdisjoint(key for key, _ in treefile.ignored)


_KNOWN_KEYS = sorted(HONOURED | set(IGNORED) | set(FIXED_VALUES) | {"initramfs-args", "packages-x86_64"})


@given(
    st.dictionaries(
        st.sampled_from(_KNOWN_KEYS),
        st.one_of(
            _values,
            st.lists(st.one_of(_values, st.lists(st.text(max_size=6), max_size=3)), max_size=3),
            st.dictionaries(st.text(max_size=4), _values, max_size=2),
        ),
        max_size=6,
    )
)
def test_every_known_key_with_any_value_is_accepted_or_refused_cleanly(data: dict[str, Any]) -> None:
    document = {"ref": "fedora/26/x86_64/atomic-host", **data}
    try:
        treefile = parse_treefile(document, Path("/nowhere/t.json"), releasever="26")
    except ConfigError:
        return
    assert set(treefile.unapplied) <= set(document) - HONOURED
    assert all(
        destination.startswith("/") and ".." not in destination for _, destination in treefile.add_files
    )
