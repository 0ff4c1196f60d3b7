"""The bench's trends goals are judged from the figures of the trends phase (bench/report.py)."""

from bench import report

FIGURES = {
    "history_events": 3198,
    "history_seconds": 20.0,
    "organic_tags": 12,
    "organic_in_final_top10": 9,
    "puppets": 500,
    "puppet_seconds": 40.0,
    "puppet_best_rank": None,
    "puppet_in_final_top10": False,
    "spike_accounts": 20,
    "spike_seconds": 20.0,
    "spike_detected": True,
    "detection_seconds_after_20th": -4.5,
    "detection_seconds_after_1st": 15.5,
    "polls": 120,
    "poll_seconds": 0.5,
    "refresh_seconds": 10.0,
}


def test_trends_goals_are_met_by_an_early_detection_and_puppets_never_ranked():
    spike, puppets = report.trends_goals({"trends": FIGURES})
    assert spike["met"] and spike["value"] == -4.5
    assert puppets["met"] and puppets["value"] == 0


def test_a_late_or_missing_detection_and_a_ranked_puppet_are_not_met():
    late = report.trends_goals({"trends": FIGURES | {"detection_seconds_after_20th": 130.0}})[0]
    missing = report.trends_goals(
        {"trends": FIGURES | {"spike_detected": False, "detection_seconds_after_20th": None}}
    )[0]
    ranked = report.trends_goals({"trends": FIGURES | {"puppet_best_rank": 7}})[1]
    assert not late["met"] and not missing["met"] and not ranked["met"]
    assert report.trends_goals({}) == []
    assert "never in the top 10" in report._trends_figures(FIGURES)
