"""Pure pieces of the operator UI: which field an error is about, the UI's words,
audit sentences and links, chart geometry."""

from __future__ import annotations

import datetime as dt

from bootstrap.services.stats import Point
from bootstrap.web import audit_words, charts, forms

ENROLL = ("identity", "network", "fqdn", "auth", "ipv4")


def test_a_service_error_lands_at_the_field_it_names() -> None:
    assert forms.field_of("identity 'bad' must look like user@domain", ENROLL) == "identity"
    assert forms.field_of("network 'x.example' does not exist", ENROLL) == "network"
    assert forms.field_of("subscriber 'mn@example.com' is already enrolled", ENROLL) == "identity"
    assert forms.field_of("fqdn 'a.example' already belongs to another subscriber",
                          ENROLL) == "fqdn"
    assert forms.field_of("home agent 'ha9' does not exist", ("fqdn",)) == "fqdn"
    assert forms.field_of("ha-info must be one of address, fqdn, both",
                          ("zones", "ha_info")) == "ha_info"
    assert forms.field_of("could not claim a home agent slot; try again", ENROLL) == forms.FORM


def test_messages_are_in_the_uis_words() -> None:
    text = forms.ui_words("the store has no CA yet; run 'bootstrapctl ca init' first")
    assert "bootstrapctl" not in text and "Networks page" in text
    text = forms.ui_words("network 'x' does not exist (see 'bootstrapctl network list')")
    assert text == "network 'x' does not exist"


def test_audit_entries_read_as_sentences_without_python_values() -> None:
    said = audit_words.sentence("subscriber.enroll", "mn@example.com", {
        "ha": "ha1.example.com", "hoa": ["2001:db8:1::5"], "hoa4": None, "auth": "eap"})
    assert said == ("enrolled mn@example.com on ha1.example.com with home address"
                    " 2001:db8:1::5 (eap)")
    assert audit_words.sentence("ha.reassign", "ha1", {"moved": 7687, "stranded": 0}) == \
        "moved 7,687 subscribers off ha1"
    assert audit_words.sentence("made.up", "x", {}) == "made.up x"
    link = audit_words.target_link("subscriber.revoke", "a b@example.com")
    assert link is not None and link.href == "/subscribers/a%20b@example.com"
    assert audit_words.target_link("operator.login", "admin") is None


def test_line_chart_spans_the_window_and_scales_to_a_round_maximum() -> None:
    now = dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC)
    span = dt.timedelta(days=1)
    pts = [Point(now - span, 0.0), Point(now - span / 2, 40.0), Point(now, 73.0)]
    c = charts.line("x", "Live bindings", {"live": pts}, now, span)
    xs = [float(p.split(",")[0]) for p in c.lines[0].points.split()]
    ys = [float(p.split(",")[1]) for p in c.lines[0].points.split()]
    assert xs[0] == charts.LEFT and xs[-1] == charts.WIDTH - charts.RIGHT
    assert ys[0] == charts.HEIGHT - charts.BOTTOM  # 0 sits on the axis
    assert c.y_ticks[-1][1] == "100" and "now live 73" in c.summary
    empty = charts.line("y", "Nothing", {}, now, span)
    assert empty.empty and "no samples" in empty.summary


def test_bar_chart_has_one_bar_per_day() -> None:
    days = [(dt.date(2026, 12, d), n) for d, n in ((1, 0), (2, 5), (3, 10))]
    c = charts.bars("e", "Enrollments per day", days)
    assert len(c.bars) == 3 and c.bars[0].h == 0 and c.bars[2].h > c.bars[1].h
    assert "15 in the last 3 days, 10 today" in c.summary
