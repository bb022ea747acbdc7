"""Evaluation (好差评): ratings, rectification tickets, appeals and the score (docs/reference.md#evaluation, #record-files, #evaluation-score)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from sla import evaluation
from sla.workdays import WorkCalendar, calendar_from
from tests.sla.conftest import BUREAU, DG_OPS, EDU, GZ_OPS, Clock

SH = ZoneInfo("Asia/Shanghai")
RATED = "2026-09-30T10:00:00+08:00"
DUE = "2026-10-14T00:00:00+08:00"


def _snapshot(cli) -> tuple[str, str, str]:
    ratings = cli("ratings", "list", "--json").stdout
    tickets = cli("tickets", "list", "--json").stdout
    return ratings, tickets, cli("audit", "verify", "--json").stdout


def _rate(
    call,
    department: str,
    level,
    *,
    time: str = RATED,
    comment: str | None = None,
    actor=BUREAU,
    contract: str = "PROV-2026",
    now: datetime | None = None,
) -> evaluation.RatingResult:
    clock = Clock(now or datetime(2026, 10, 1, 9, tzinfo=SH))
    return call(
        evaluation.add_rating,
        actor=actor,
        contract_id=contract,
        department_id=department,
        level=level,
        comment=comment,
        time=time,
        now=clock,
    )


def test_a_department_rates_a_contract_on_its_cloud_with_a_level_name(loaded) -> None:
    before = loaded("audit", "verify", "--json").json()["entries"]
    result = loaded(
        "ratings", "add", "--contract", "PROV-2026", "--level", "非常满意", "--time", RATED, "--as", "edu1", "--json"
    )
    assert result.code == 0, result
    rating = result.json()["rating"]
    assert (rating["department"], rating["level"], rating["period"]) == ("gd-edu", 5, "2026-09")
    assert result.json()["ticket"] is None
    assert loaded("audit", "verify", "--json").json()["entries"] == before + 1


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("--contract", "NOPE", "--department", "gd-edu", "--level", "5"), "contract"),
        (("--contract", "PROV-2026", "--department", "nobody", "--level", "5"), "department"),
        (("--contract", "PROV-2026", "--department", "gz-gaj", "--level", "5"), "department"),
        (("--contract", "PROV-2026", "--department", "gd-edu", "--level", "0"), "level"),
        (("--contract", "PROV-2026", "--department", "gd-edu", "--level", "6"), "level"),
        (("--contract", "PROV-2026", "--department", "gd-edu", "--level", "好"), "level"),
        (("--contract", "PROV-2026", "--department", "gd-edu", "--level", "不满意"), "comment"),
        (("--contract", "PROV-2026", "--department", "gd-edu", "--level", "1", "--comment", "  "), "comment"),
        (
            ("--contract", "PROV-2026", "--department", "gd-edu", "--level", "5", "--time", "2026-09-30T10:00:00"),
            "time",
        ),
        (
            ("--contract", "GZ-2026", "--department", "gz-gaj", "--level", "5", "--time", "2026-02-10T10:00:00+08:00"),
            "time",
        ),
    ],
)
def test_bad_rating_input_gets_a_clear_error_naming_the_field_and_changes_nothing(loaded, args, field) -> None:
    before = _snapshot(loaded)
    timed = args if "--time" in args else (*args, "--time", RATED)
    result = loaded("ratings", "add", *timed, "--json")
    assert result.code == 1, result
    report = result.json()
    assert [p["path"] for p in report["problems"]] == [field]
    assert report["problems"][0]["message"]
    assert _snapshot(loaded) == before


def test_a_department_user_rates_only_as_its_own_department(loaded) -> None:
    before = _snapshot(loaded)
    result = loaded(
        "ratings",
        "add",
        "--contract",
        "PROV-2026",
        "--department",
        "gd-fin",
        "--level",
        "5",
        "--time",
        RATED,
        "--as",
        "edu1",
    )
    assert result.code == 1
    assert "own department" in result.stderr
    assert _snapshot(loaded) == before
    assert (
        loaded("ratings", "add", "--contract", "PROV-2026", "--level", "5", "--time", RATED, "--as", "ops-dg").code == 1
    )  # operators do not rate


def test_the_latest_rating_per_department_and_period_counts_and_history_is_kept(call, session) -> None:
    later = datetime(2026, 10, 20, tzinfo=SH)
    _rate(call, "gd-edu", 2, time="2026-10-02T10:00:00+08:00", comment="slow disks", now=later)
    _rate(call, "gd-edu", 5, time="2026-10-09T10:00:00+08:00", now=later)
    _rate(call, "gd-edu", 3, time="2026-10-05T10:00:00+08:00", now=later)  # arrives last, but an older time
    _rate(call, "gd-fin", 4, time="2026-10-03T10:00:00+08:00", now=later)
    _rate(call, "gd-fin", 1, time="2026-10-03T10:00:00+08:00", comment="outage", now=later)  # same time: arrival
    _rate(call, "gd-hr", 5, time="2026-09-30T23:00:00+08:00", now=later)  # another period
    counted = evaluation.counted_ratings(session, "PROV-2026", "2026-10")
    assert [(r.department_id, r.level) for r in counted] == [("gd-edu", 5), ("gd-fin", 1)]
    assert len(evaluation.list_ratings(session, actor=BUREAU, contract_id="PROV-2026", period="2026-10")) == 5
    score = evaluation.score_for(session, "PROV-2026", "2026-10")
    assert (score.count, score.score) == (2, Decimal(50))


def test_a_bad_review_opens_a_ticket_due_at_the_end_of_the_fifth_working_day(call, session) -> None:
    result = _rate(call, "gd-edu", "不满意", comment="tickets unanswered")
    assert result.ticket is not None
    assert result.ticket.due_at == datetime.fromisoformat(DUE)
    assert (result.ticket.operator, result.ticket.status) == ("dgcloud", "open")
    assert _rate(call, "gd-fin", 3).ticket is None


def test_a_migrated_rating_with_a_past_time_is_due_and_appealable_from_its_receipt(call) -> None:
    # docs/reference.md#evaluation: deadlines count from the day the rating was received here, not from its own time.
    received = datetime(2026, 10, 20, 9, tzinfo=SH)  # a Tuesday; the rating itself is from 10 September
    bad = _rate(call, "gd-edu", 1, comment="migrated", time="2026-09-10T10:00:00+08:00", now=received)
    due = datetime(2026, 10, 28, tzinfo=SH)  # 24:00 of the 5th working day after 20 October
    assert bad.ticket is not None and bad.ticket.due_at == due and not bad.ticket.overdue
    assert bad.rating.appeal_due == due
    assert call(evaluation.list_tickets, actor=DG_OPS, overdue=True, now=Clock(received)) == []
    appeal = call(
        evaluation.appeal_rating,
        actor=DG_OPS,
        rating_id=bad.rating.id,
        reason="the old system lost our answer",
        now=Clock(datetime(2026, 10, 27, 18, tzinfo=SH)),
    )
    assert appeal.status == "pending"


def test_a_year_the_calendar_does_not_cover_warns_and_counts_monday_to_friday(call) -> None:
    result = _rate(
        call,
        "gd-edu",
        1,
        contract="PROV-2099",
        comment="far future",
        time="2099-01-02T09:00:00+08:00",
        now=datetime(2099, 1, 2, 10, tzinfo=SH),
    )
    assert result.ticket is not None and result.ticket.due_at == datetime(2099, 1, 10, tzinfo=SH)
    assert any("2099" in w for w in result.warnings)


def test_the_workdays_override_file_moves_ticket_deadlines(loaded, tmp_path: Path) -> None:
    # The deadline counts from today (the day the command records the rating): declare the next days holidays.
    today = datetime.now(SH).date()
    override = tmp_path / "workdays.yaml"
    extra = [str(today + timedelta(days=n)) for n in range(1, 4)]
    override.write_text(f"holidays: [{', '.join(extra)}]\n", encoding="utf-8")
    result = loaded(
        "ratings",
        "add",
        "--contract",
        "PROV-2026",
        "--department",
        "gd-edu",
        "--level",
        "1",
        "--comment",
        "down again",
        "--time",
        RATED,
        "--workdays",
        override,
        "--json",
    )
    assert result.code == 0, result
    moment = datetime.now(SH)
    expected = calendar_from(override).deadline(moment, SH)
    assert expected > WorkCalendar().deadline(moment, SH)
    assert result.json()["ticket"]["due_at"] == expected.isoformat()
    broken = tmp_path / "broken.yaml"
    broken.write_text("holidays: [someday]\n", encoding="utf-8")
    refused = loaded(
        "ratings",
        "add",
        "--contract",
        "PROV-2026",
        "--department",
        "gd-edu",
        "--level",
        "1",
        "--comment",
        "x",
        "--time",
        RATED,
        "--workdays",
        broken,
        "--json",
    )
    assert refused.code == 1
    assert refused.json()["problems"][0]["file"] == str(broken)


def test_operators_answer_their_own_tickets_once_and_overdue_ones_are_listed(call) -> None:
    ticket = _rate(call, "gd-edu", 2, comment="slow").ticket
    before_due = Clock(datetime(2026, 10, 13, 23, 59, tzinfo=SH))
    after_due = Clock(datetime(2026, 10, 14, 0, 0, tzinfo=SH))
    assert call(evaluation.list_tickets, actor=DG_OPS, overdue=True, now=before_due) == []
    overdue = call(evaluation.list_tickets, actor=DG_OPS, overdue=True, now=after_due)
    assert [(t.id, t.overdue) for t in overdue] == [(ticket.id, True)]
    assert call(evaluation.list_tickets, actor=GZ_OPS, now=after_due) == []
    assert [t.id for t in call(evaluation.list_tickets, actor=EDU, now=after_due)] == [ticket.id]
    with pytest.raises(NotFound, match=f"ticket not found: {ticket.id}$"):  # another operator's: as if missing
        call(evaluation.answer_ticket, actor=GZ_OPS, ticket_id=ticket.id, text="not ours", now=after_due)
    with pytest.raises(InvalidInput):
        call(evaluation.answer_ticket, actor=DG_OPS, ticket_id=ticket.id, text=" ", now=after_due)
    answered = call(evaluation.answer_ticket, actor=DG_OPS, ticket_id=ticket.id, text="disks replaced", now=after_due)
    assert (answered.status, answered.answer, answered.overdue) == ("answered", "disks replaced", False)
    with pytest.raises(Conflict):
        call(evaluation.answer_ticket, actor=DG_OPS, ticket_id=ticket.id, text="again", now=after_due)
    assert call(evaluation.list_tickets, actor=DG_OPS, overdue=True, now=after_due) == []
    # the department may re-rate: the new rating is the one that counts
    _rate(call, "gd-edu", 4, time="2026-09-30T18:00:00+08:00")
    assert [r.level for r in call(evaluation.counted_ratings, contract_id="PROV-2026", period="2026-09")] == [4]


def test_tickets_through_the_command_line(loaded) -> None:
    assert (
        loaded(
            "ratings",
            "add",
            "--contract",
            "PROV-2026",
            "--department",
            "gd-edu",
            "--level",
            "1",
            "--comment",
            "down",
            "--time",
            RATED,
        ).code
        == 0
    )
    # received today: due 5 working days from today whatever the rating's own (past) time, not yet overdue
    assert loaded("tickets", "list", "--overdue", "--as", "ops-dg", "--json").json()["tickets"] == []
    listed = loaded("tickets", "list", "--as", "ops-dg", "--json").json()["tickets"]
    due = WorkCalendar().deadline(datetime.now(SH), SH).isoformat()
    assert [(t["contract"], t["due_at"], t["status"], t["overdue"]) for t in listed] == [
        ("PROV-2026", due, "open", False)
    ]
    answered = loaded("tickets", "answer", str(listed[0]["id"]), "--text", "fixed", "--as", "ops-dg", "--json")
    assert answered.code == 0 and answered.json()["ticket"]["status"] == "answered"
    assert loaded("tickets", "list", "--overdue", "--as", "ops-dg", "--json").json()["tickets"] == []
    assert loaded("tickets", "answer", "999", "--text", "x", "--as", "ops-dg").code == 1


def test_an_appeal_within_five_working_days_upheld_stops_the_rating_counting(call, loaded) -> None:
    older = _rate(call, "gd-edu", 4, time="2026-09-29T10:00:00+08:00").rating
    bad = _rate(call, "gd-edu", 1, comment="unfair", time=RATED)
    assert bad.rating.appeal_due == datetime.fromisoformat(DUE)
    within = Clock(datetime(2026, 10, 13, 20, tzinfo=SH))
    with pytest.raises(NotFound, match=f"rating not found: {bad.rating.id}$"):  # another operator's: as if missing
        call(evaluation.appeal_rating, actor=GZ_OPS, rating_id=bad.rating.id, reason="not our contract", now=within)
    before = loaded("audit", "verify", "--json").json()["entries"]
    appeal = call(
        evaluation.appeal_rating,
        actor=DG_OPS,
        rating_id=bad.rating.id,
        reason="the outage was the department's own network",
        now=within,
    )
    assert appeal.status == "pending"
    with pytest.raises(Conflict):
        call(evaluation.appeal_rating, actor=DG_OPS, rating_id=bad.rating.id, reason="again", now=within)
    assert [r.level for r in call(evaluation.counted_ratings, contract_id="PROV-2026", period="2026-09")] == [1]
    with pytest.raises(Forbidden):
        call(evaluation.decide_appeal, actor=DG_OPS, appeal_id=appeal.id, uphold=True, now=within)
    decided = call(
        evaluation.decide_appeal, actor=BUREAU, appeal_id=appeal.id, uphold=True, note="confirmed", now=within
    )
    assert decided.status == "upheld"
    counted = call(evaluation.counted_ratings, contract_id="PROV-2026", period="2026-09")
    assert [(r.id, r.level) for r in counted] == [(older.id, 4)]  # the latest remaining rating counts
    tickets = call(evaluation.list_tickets, actor=BUREAU, now=within)
    assert [(t.rating, t.status) for t in tickets] == [(bad.rating.id, "withdrawn")]
    with pytest.raises(Conflict):
        call(evaluation.decide_appeal, actor=BUREAU, appeal_id=appeal.id, uphold=False, now=within)
    assert loaded("audit", "verify", "--json").json()["entries"] == before + 2


def test_a_rejected_appeal_leaves_the_rating_counting(call) -> None:
    bad = _rate(call, "gd-fin", 2, comment="slow")
    clock = Clock(datetime(2026, 10, 8, 9, tzinfo=SH))
    appeal = call(evaluation.appeal_rating, actor=DG_OPS, rating_id=bad.rating.id, reason="disagree", now=clock)
    assert (
        call(evaluation.decide_appeal, actor=BUREAU, appeal_id=appeal.id, uphold=False, now=clock).status == "rejected"
    )
    assert [r.level for r in call(evaluation.counted_ratings, contract_id="PROV-2026", period="2026-09")] == [2]


def test_an_appeal_after_its_deadline_is_refused_and_changes_nothing(call, loaded) -> None:
    bad = _rate(call, "gd-edu", 1, comment="down")
    before = _snapshot(loaded)
    late = Clock(datetime.fromisoformat(DUE))
    with pytest.raises(InvalidInput) as caught:
        call(evaluation.appeal_rating, actor=DG_OPS, rating_id=bad.rating.id, reason="too late", now=late)
    assert "deadline" in caught.value.problems[0].message
    assert _snapshot(loaded) == before
    cli_late = loaded("ratings", "appeal", str(bad.rating.id), "--reason", "late", "--as", "ops-dg", "--json")
    assert cli_late.code == 1 and "deadline" in cli_late.json()["problems"][0]["message"]


def test_decide_needs_exactly_one_of_uphold_and_reject(loaded) -> None:
    assert loaded("ratings", "decide", "1", "--as", "bureau1").code == 2
    assert loaded("ratings", "decide", "1", "--uphold", "--reject", "--as", "bureau1").code == 2
    missing = loaded("ratings", "decide", "1", "--uphold", "--as", "bureau1", "--json")
    assert missing.code == 1 and "not found" in missing.json()["error"]


def test_ratings_import_stores_valid_rows_and_reports_each_bad_one(loaded, tmp_path: Path) -> None:
    path = tmp_path / "ratings.csv"
    path.write_text(
        "\ufeffdepartment,contract,time,level,comment\n"
        "gd-edu,PROV-2026,2026-10-02T10:00:00+08:00,非常满意,\n"
        "gd-fin,PROV-2026,2026-10-02T11:00:00+08:00,4,good\n"
        'sw-gaj,PROV-2026,2026-10-02T12:00:00+08:00,非常不满意,"slow, and ""down"""\n'
        "gz-gaj,PROV-2026,2026-10-02T12:00:00+08:00,5,not on its cloud\n"
        "gd-hr,PROV-2026,2026-10-02T12:00:00+08:00,6,\n"
        "gd-hr,PROV-2026,2026-10-02T12:00:00+08:00,2,\n"
        "gd-hr,PROV-2026,2026-10-02 12:00,3,\n"
        "gd-hr,NOPE,2026-10-02T12:00:00+08:00,3,\n"
        "ghost,PROV-2026,2026-10-02T12:00:00+08:00,3,\n",
        encoding="utf-8",
    )
    result = loaded("ratings", "import", path, "--json")
    assert result.code == 1, result
    report = result.json()
    assert report["accepted"] == 3
    assert [(r["line"], r["field"]) for r in report["rejected"]] == [
        (5, "department"),
        (6, "level"),
        (7, "comment"),
        (8, "time"),
        (9, "contract"),
        (10, "department"),
    ]
    score = loaded("ratings", "score", "--contract", "PROV-2026", "--period", "2026-10", "--json").json()
    assert {k: score[k] for k in ("count", "distribution", "score", "satisfaction_rate", "bad_review_rate")} == {
        "count": 3,
        "distribution": {"1": 1, "2": 0, "3": 0, "4": 1, "5": 1},
        "score": "58.333333",
        "satisfaction_rate": "0.666667",
        "bad_review_rate": "0.333333",
    }
    assert score["pays"] == "0.00"
    tickets = loaded("tickets", "list", "--json").json()["tickets"]
    assert [t["department"] for t in tickets] == ["sw-gaj"]
    comments = [r["comment"] for r in loaded("ratings", "list", "--department", "sw-gaj", "--json").json()["ratings"]]
    assert comments == ['slow, and "down"']

    entries = loaded("audit", "verify", "--json").json()["entries"]
    again = loaded("ratings", "import", path, "--json").json()
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    assert loaded("audit", "verify", "--json").json()["entries"] == entries


def test_a_department_user_imports_only_its_own_ratings(loaded, tmp_path: Path) -> None:
    path = tmp_path / "ratings.csv"
    path.write_text(
        "department,contract,time,level,comment\n"
        "gd-edu,PROV-2026,2026-10-02T10:00:00+08:00,5,\n"
        "gd-fin,PROV-2026,2026-10-02T10:00:00+08:00,5,\n",
        encoding="utf-8",
    )
    report = loaded("ratings", "import", path, "--as", "edu1", "--json").json()
    assert report["accepted"] == 1
    assert [r["line"] for r in report["rejected"]] == [3]


def test_scores_and_ratings_are_scoped_to_the_acting_user(loaded) -> None:
    for department, level in (("gd-edu", "5"), ("gd-fin", "4")):
        assert (
            loaded(
                "ratings",
                "add",
                "--contract",
                "PROV-2026",
                "--department",
                department,
                "--level",
                level,
                "--time",
                RATED,
            ).code
            == 0
        )
    assert loaded("ratings", "score", "--contract", "PROV-2026", "--period", "2026-09", "--as", "ops-gz").code == 1
    assert loaded("ratings", "score", "--contract", "PROV-2026", "--period", "2026-09", "--as", "ops-dg").code == 0
    own = loaded("ratings", "list", "--as", "edu1", "--json").json()["ratings"]
    assert [r["department"] for r in own] == ["gd-edu"]
    assert loaded("ratings", "list", "--as", "ops-gz", "--json").json()["ratings"] == []
    human = loaded("ratings", "score", "--contract", "PROV-2026", "--period", "2026-09")
    assert "87.500000" in human.stdout
