"""The SVG charts: well-formed for any values, every mark inside the view box, described in words."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.web.charts import HEIGHT, WIDTH, bar_chart, line_chart, nice_top

SVG = "{http://www.w3.org/2000/svg}"
DAYS = [f"2026-03-{day:02d}" for day in range(1, 31)]
values = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 1e7))
day_counts = st.integers(min_value=0, max_value=30)


def _inside(svg: ET.Element) -> None:
    for mark in svg.iter(f"{SVG}polyline"):
        for point in mark.attrib["points"].split():
            x, y = (float(part) for part in point.split(","))
            assert 0 <= x <= WIDTH and 0 <= y <= HEIGHT
    for dot in svg.iter(f"{SVG}circle"):
        assert 0 <= float(dot.attrib["cx"]) <= WIDTH and 0 <= float(dot.attrib["cy"]) <= HEIGHT
    for bar in svg.iter(f"{SVG}rect"):
        x, y, w, h = (float(bar.attrib[k]) for k in ("x", "y", "width", "height"))
        assert x >= 0 and x + w <= WIDTH + 0.01 and y >= 0 and h >= 0 and y + h <= HEIGHT


@given(day_counts, st.lists(st.lists(values, max_size=30), min_size=1, max_size=3))
def test_a_line_chart_parses_and_draws_inside_its_box(count: int, lines: list[list[float | None]]) -> None:
    days = DAYS[:count]
    svg = ET.fromstring(line_chart("c", "build <durations> & more", days,
                                   {f"p{n}": line for n, line in enumerate(lines)}))
    assert svg.attrib["role"] == "img"
    assert "build <durations> & more" in svg.findtext(f"{SVG}title", "")
    assert svg.findtext(f"{SVG}desc")
    _inside(svg)


@given(day_counts, st.lists(values, max_size=30))
def test_a_bar_chart_parses_and_draws_a_bar_per_known_day(count: int, shares: list[float | None]) -> None:
    days = DAYS[:count]
    svg = ET.fromstring(bar_chart("f", "failure rate", days, shares))
    drawn = [s for s in shares[:count] if s is not None and math.isfinite(s)]
    assert len(list(svg.iter(f"{SVG}rect"))) == len(drawn)
    _inside(svg)


def test_a_line_chart_scales_its_highest_value_to_the_top_of_a_round_axis() -> None:
    svg = ET.fromstring(line_chart("c", "t", DAYS[:2], {"p50": [30.0, 75.0]}))
    ticks = [t.text for t in svg.iter(f"{SVG}text")]
    assert "1.7 min" in ticks and "0 s" in ticks  # the top is 100 s
    points = next(svg.iter(f"{SVG}polyline")).attrib["points"].split()
    assert float(points[1].split(",")[1]) < float(points[0].split(",")[1])  # 75 s is drawn higher


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_an_axis_top_is_round_and_covers_the_value(value: float) -> None:
    top = nice_top(value)
    assert top > 0
    if math.isfinite(value) and value > 0:
        assert top >= value and top < value * 10.000001
