"""Reading a decision request in either of Greenwave's forms."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.errors import UsageError
from ci_pipeline.gating.request import request_from_json

NVR = "ci-calc-1.0-1.fc26"


def test_subject_type_and_identifier() -> None:
    ask = request_from_json(
        {
            "decision_context": "bodhi_update_push_stable",
            "product_version": "fedora-26",
            "subject_type": "koji_build",
            "subject_identifier": NVR,
            "verbose": True,
            "when": "2026-11-29T10:00:00",
        }
    )
    assert ask.subjects == (("koji_build", NVR),) and ask.decision_contexts == ("bodhi_update_push_stable",)
    assert ask.verbose and ask.when == datetime(2026, 11, 29, 10, tzinfo=UTC)


def test_subject_list_and_context_list() -> None:
    ask = request_from_json(
        {
            "decision_context": ["bodhi_update_push_testing", "bodhi_update_push_stable"],
            "product_version": "fedora-26",
            "subject": [
                {"type": "koji_build", "item": NVR},
                {"type": "bodhi_update", "item": "FEDORA-2026-1"},
                {"original_spec_nvr": "vim-9-1.fc26"},
                {"type": "koji_build", "item": NVR},
            ],
        }
    )
    assert ask.subjects == (
        ("koji_build", NVR),
        ("bodhi_update", "FEDORA-2026-1"),
        ("koji_build", "vim-9-1.fc26"),
    )
    assert ask.decision_contexts == ("bodhi_update_push_testing", "bodhi_update_push_stable")
    assert not ask.verbose and ask.when is None


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ([], "is a JSON object"),
        ({"decision_context": "c", "subject_identifier": NVR}, "Missing required product version"),
        ({"product_version": "f", "subject_identifier": NVR}, "Missing required decision context"),
        ({"product_version": "f", "decision_context": "c"}, "Missing required subject"),
        ({"product_version": "f", "decision_context": [], "subject_identifier": NVR}, "decision_context"),
        (
            {"product_version": "f", "decision_context": "c", "subject": [{"type": "koji_build"}]},
            "subject.item",
        ),
        ({"product_version": "f", "decision_context": "c", "subject": "x"}, "'subject' must be a list"),
        (
            {"product_version": "f", "decision_context": "c", "subject_identifier": NVR, "verbose": "y"},
            "verbose",
        ),
        (
            {"product_version": "f", "decision_context": "c", "subject_identifier": NVR, "when": "soon"},
            "ISO 8601",
        ),
    ],
)
def test_a_bad_request_is_one_sentence(body: Any, words: str) -> None:
    with pytest.raises(UsageError, match=words) as caught:
        request_from_json(body)
    assert "\n" not in str(caught.value)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
_keys = st.sampled_from(
    [
        "decision_context",
        "product_version",
        "subject_type",
        "subject_identifier",
        "subject",
        "verbose",
        "when",
    ]
)


@given(st.dictionaries(_keys, _json))
def test_any_json_is_a_request_or_a_usage_error(body: dict[str, Any]) -> None:
    try:
        ask = request_from_json(body)
    except UsageError as exc:
        assert str(exc)
    else:
        assert ask.subjects and ask.decision_contexts and ask.product_version
