"""The benchmark at a small scale, so it cannot rot: outcome counts, not timings."""

from __future__ import annotations

import math

from bench.__main__ import SCENARIOS, parse, report, run
from contract_sync.demo.generator import EDGE_CASES


def test_benchmark_runs_every_scenario_with_the_right_outcomes(tmp_path):
    contracts = 60
    args = parse(
        [
            "--contracts",
            str(contracts),
            "--items-per-contract",
            "5",
            "--repeat",
            "1",
            "--no-prefect",
            "--data-dir",
            str(tmp_path),
        ]
    )
    result = run(args)
    runs = {name: r[0] for name, r in result["runs"].items()}
    assert runs["floor"]["erp_items"] == contracts * 5
    # one contract never imported (-5 items), one imported into two projects (+5)
    assert runs["floor"]["store_items"] == contracts * 5
    regular = contracts - len(EDGE_CASES)
    for name, (fraction, _) in SCENARIOS.items():
        edited = math.ceil(fraction * regular)
        assert runs[name]["outcomes"].get("reimported", 0) == edited, name
        assert sum(runs[name]["outcomes"].values()) == contracts
        assert runs[name]["peak_rss_mb"] > 0 and runs[name]["total"] > 0
    single = contracts - 2  # the never-imported contract and the one in two projects
    assert runs["d: full refresh"]["compared_contracts"] >= single
    assert runs["b: nothing edited"]["compared_contracts"] < 10
    assert report(result).row_count == len(SCENARIOS) + 1
