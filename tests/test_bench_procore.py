"""bench.procore: the Procore requests of each scenario, against issue 31's targets, on a
small company (the benchmark's own figures come from its larger runs)."""

from __future__ import annotations

from bench.procore import run


def test_request_counts_meet_their_targets_on_a_small_company(tmp_path):
    result = run(40, 30, 0.1, tmp_path)
    first = result["first import"]
    assert first["imported"] >= 30 and first["answers_429"] == 0
    nothing = result["nothing edited"]
    assert nothing["written"] == 0
    assert nothing["requests"] <= nothing["target_nothing_edited"] == result["projects"] + 5
    edited = result["10% edited"]
    assert edited["written"] >= 2 and edited["answers_429"] == 0
    assert edited["requests"] <= edited["target_edited"]
