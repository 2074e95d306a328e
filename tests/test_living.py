"""Living-mode parameters (analysis.versions.living), their validation, and the PRISMA-LSR checklist."""
from __future__ import annotations

import csv
import datetime as dt

import pytest

from analysis.versions import living, prisma_lsr
from analysis.commands import checks
from analysis.views import living_views
from analysis.io import validate


def _rewrite(path, change):
    with path.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        fields, rows = reader.fieldnames, list(reader)
    rows = change(rows)
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.parametrize("start, months, expected", [
    ("2026-11-22", 6, "2027-05-22"), ("2026-08-31", 6, "2027-02-28"), ("2024-01-31", 1, "2024-02-29"),
    ("2026-12-15", 1, "2027-01-15"),
])
def test_add_months_keeps_the_day_or_takes_the_last_day_of_the_month(start, months, expected):
    assert living.add_months(dt.date.fromisoformat(start), months).isoformat() == expected


def test_next_search_is_due_a_frequency_after_the_last_run_in_the_search_log():
    table = living.living_mode(as_of="2026-12-01")
    assert len(table) >= 2
    for row in table.to_dict("records"):
        if row["status"] != "active" or row["last_search"] is None:
            continue
        due = living.add_months(dt.date.fromisoformat(row["last_search"]), row["search_frequency_months"])
        assert row["next_search_due"] == due.isoformat()
        assert row["overdue"] is (due < dt.date(2026, 12, 1))


def test_a_search_becomes_overdue_after_its_due_date():
    table = living.living_mode()
    due = min(d for d in table["next_search_due"] if d)
    day_after = dt.date.fromisoformat(due) + dt.timedelta(days=1)
    flags = living.search_flags(as_of=day_after)
    assert any(flag.startswith("search overdue") and due in flag for flag in flags)
    assert not any("overdue" in flag for flag in living.search_flags(as_of=due))
    banner = living_views.status_banner(as_of=day_after)
    assert "search overdue since" in repr(banner) and "admonition warning" in banner._repr_html_()


def test_a_new_run_of_a_source_moves_its_next_search(data_copy):
    log = data_copy / "q1_webhelp" / "searches" / "searches.csv"
    source = living.living_mode().iloc[0]["source"]
    with log.open("a", encoding="utf-8", newline="") as stream:
        csv.writer(stream, lineterminator="\n").writerow(
            ["S900", "later.ris", source, "test", "2027-06-01", "0", "ris", ""])
    row = living.living_mode().iloc[0]
    assert (row["last_search"], row["next_search_due"]) == ("2027-06-01", "2027-12-01")


def test_check_reports_a_bad_status_and_a_question_without_a_row(data_copy):
    path = data_copy / "living_mode.csv"
    _rewrite(path, lambda rows: [dict(rows[0], status="sleeping")])
    problems = [str(p) for p in checks.check_all(data_copy)]
    assert any(p.startswith("living_mode.csv:2:status:") for p in problems), problems
    _rewrite(path, lambda rows: [dict(rows[0], status="active")])
    problems = [str(p) for p in checks.check_all(data_copy)]
    assert any(p.startswith("living_mode.csv:-:question:") and "q2" in p for p in problems), problems


def test_check_reports_a_monitoring_plan_for_an_unknown_outcome(data_copy):
    _rewrite(data_copy / "monitoring_plan.csv", lambda rows: rows + [dict(rows[0], outcome="nothing")])
    problems = [str(p) for p in checks.check_all(data_copy)]
    assert any(p.startswith("monitoring_plan.csv:") and "nothing" in p for p in problems), problems


def test_every_checklist_element_the_data_can_fill_is_reported():
    checklist = prisma_lsr.checklist()
    items = prisma_lsr.items()
    fillable = items["filled_by"] != ""
    assert set(checklist[fillable.to_numpy()]["status"]) == {"reported"}
    assert set(checklist[(~fillable).to_numpy()]["status"]) == {"not reported"}
    # PRISMA-LSR's four new items are all listed
    assert {"L1", "L2", "L3", "L4"} <= set(items["item"])


def test_an_element_whose_data_are_missing_is_not_reported(data_copy):
    _rewrite(data_copy / "living_mode.csv", lambda rows: [])
    checklist = prisma_lsr.checklist()
    schedule = checklist[checklist["topic"] == "Living mode parameters"]
    assert "not reported" in set(schedule["status"])


def test_expected_k_adds_the_reports_awaiting_full_text_that_are_not_included_studies():
    import pandas as pd

    from analysis.versions import evidence_requests
    from analysis import review
    from analysis.pooling import synthesis

    table = evidence_requests.expected_k()
    assert list(table["outcome"]) == [spec.outcome for spec in synthesis.ANALYSES]
    for question, folder in (("q1", "q1_webhelp"), ("q2", "q2_interventions")):
        data = evidence_requests.data_dir() / folder
        awaiting = set(pd.read_csv(data / "awaiting_full_text.csv", dtype=str)["record_id"])
        included = set(pd.read_csv(data / "studies.csv", dtype=str)["record_id"])
        rows = table[table["question"] == question]
        assert set(rows["awaiting"]) == {len(awaiting - included)}
        for row in rows.to_dict("records"):
            assert row["k"] == len(review.current().pooled(question, row["outcome"]).effect_sizes)
            assert row["expected_k_at_most"] == row["k"] + row["awaiting"]


def test_every_book_block_renders_html_with_a_plain_text_twin():
    import matplotlib

    matplotlib.use("Agg")
    from analysis.views.blocks import HtmlBlock

    blocks = [living_views.status_banner(), living_views.living_mode_table(),
              living_views.whats_new_table(), living_views.flow_table(),
              living_views.flow_figure("q1"), living_views.checklist_table(),
              living_views.expected_k_table(), *living_views.monitoring_panel("q1", "depression_webhelp"),
              *living_views.monitoring_panel("q2", "attitudes")]
    for block in blocks:
        assert isinstance(block, HtmlBlock)
        assert block._repr_html_().startswith("<") and repr(block).strip()
    checklist = living_views.checklist_table()._repr_html_()
    assert 'id="prisma-lsr"' in checklist and "not reported" in checklist
    assert "monitoring, not a conclusion" in repr(living_views.monitoring_panel("q1", "depression_webhelp")[0])
