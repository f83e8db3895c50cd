"""tests/reliability/figures.py: FIGURE lines read back, and the README section `python bench/reliability.py` writes."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.figures import END, HEADING, START, Figure, figure_line, parse, place, section

README = Path(__file__).resolve().parents[2] / "README.md"

OUTPUT = [
    "tests/reliability/test_faults.py .",
    "FIGURE faults.duplicate_creates=0 faults.create_trials=108",
    "noise FIGURE not.a=figure",
    "FIGURE load.error_rate_pct=0 load.p50_ms=12.5",
    "FIGURE faults.duplicate_creates=0 faults.create_trials=108",
    "FIGURE fuzz.calls=5000 fuzz.internal_errors=0",
    "FIGURE",
]


def test_figure_lines_are_parsed_in_order_once_each_with_their_suite() -> None:
    assert parse(OUTPUT) == [
        Figure("faults", (("duplicate_creates", "0"), ("create_trials", "108"))),
        Figure("load", (("error_rate_pct", "0"), ("p50_ms", "12.5"))),
        Figure("fuzz", (("calls", "5000"), ("internal_errors", "0"))),
    ]


def test_a_line_a_suite_prints_reads_back_as_its_values() -> None:
    line = figure_line("fuzz", {"calls": 5123, "p95_ms": 12.345, "kind": "two words"})
    assert parse([line]) == [Figure("fuzz", (("calls", "5123"), ("p95_ms", "12.3"), ("kind", "two_words")))]


def test_the_section_names_the_command_and_the_date_and_lists_every_line() -> None:
    body = section(parse(OUTPUT), date="2026-01-02", minutes=6.5, machine="2 cores")
    assert "`python bench/reliability.py`" in body
    assert "2026-01-02" in body
    assert "| duplicate_creates = 0 · create_trials = 108 |" in body
    assert "| calls = 5000 · internal_errors = 0 |" in body
    # Known suites in their fixed order: faults before load, whatever order the run printed.
    assert body.index("**Faults**") < body.index("**Load**") < body.index("**Fuzzing**")


def test_the_section_goes_right_after_reliability_and_leaves_the_rest_alone() -> None:
    readme = README.read_text(encoding="utf-8")
    if START in readme:  # already generated: take the section out to test creating it
        before, rest = readme.split(f"{HEADING}\n\n{START}", 1)
        readme = before + rest.split(f"{END}\n\n", 1)[1]
    placed = place(readme, "figures\n")
    assert placed.startswith(readme[: readme.index("## Reliability\n")])
    # The next heading after "## Reliability" is ours, and the one that followed it comes after.
    assert placed.index("\n## ", placed.index("## Reliability\n")) + 1 == placed.index(HEADING)
    assert placed.index(HEADING) < placed.index("## The sandbox")
    assert placed.replace(f"{HEADING}\n\n{START}\nfigures\n{END}\n\n", "") == readme


def test_running_it_again_replaces_only_what_is_between_the_markers() -> None:
    first = place("# t\n\n## Reliability\n\ntext\n\n## Next\n", "one\n")
    again = place(first, "two\n")
    assert again == first.replace("one\n", "two\n")
    assert again.count(HEADING) == 1
