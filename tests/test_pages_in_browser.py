"""The pages a person opens, in a real browser (headless Chromium): a run's validation
report and the audit report render offline, say what they must, and read on light and
dark screens."""

from __future__ import annotations

from contract_sync.demo.generator import edge_case_contracts, generate_company
from contract_sync.erp.vista import read_vista
from contract_sync.model import ErpFrames
from contract_sync.reports.audit import timeline_svg
from contract_sync.reports.rules import checks
from contract_sync.reports.validation import with_report
from contract_sync.stages.validate import validate
from tests.test_validate import SUITES


def _open(browser, url: str, dark: bool = False):
    page = browser.new_page(color_scheme="dark" if dark else "light")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    return page, requested, errors


def test_a_validation_report_names_each_quarantined_contract_and_why(
    browser, shared_seeded, tmp_path
):
    frames = read_vista(shared_seeded.erp, 1)
    checked = validate(frames, SUITES, run_id="run-1")
    result = with_report(checked, frames.contracts["contract_no"], tmp_path / "run-1", "run-1")
    edge = edge_case_contracts(frames.contracts["contract_no"])
    [unit] = result.failures.set_index("contract_no").loc[
        edge["invalid_unit_amount"], "failed_expectations"
    ]

    page, requested, errors = _open(browser, result.docs_path.as_uri())

    assert page.title() == "Validation of run run-1"
    assert set(page.locator("h3:not(.suite)").all_inner_texts()) == {
        edge["invalid_unit_amount"],
        edge["invalid_header_total"],
    }
    # Each failing row as item, field, value and the rule in words: no GX names, no JSON.
    rows = {
        number: page.locator(f"h3:text-is('{number}') + table tbody tr").all_inner_texts()
        for number in (edge["invalid_unit_amount"], edge["invalid_header_total"])
    }
    assert rows[edge["invalid_unit_amount"]] == [
        f"{unit['item_no']}\tamount\t37.51 (quantity × unit cost: 37.50)\t"
        "each item's amount equals quantity × unit cost"
    ]
    [total] = rows[edge["invalid_header_total"]]
    assert total.startswith("\tcontract amount\t")
    assert total.endswith("\teach contract's contract amount equals the sum of its item amounts")
    shown = page.inner_text("body")
    assert "expect_" not in shown and '"37.51"' not in shown and "{" not in shown
    assert f"contracts in scope\t{len(frames.contracts)}" in shown
    assert errors == [] and all(url.startswith("file://") for url in requested)
    assert result.docs_path.stat().st_size < 200_000
    page.close()


def test_a_validation_report_that_all_passed_says_what_was_checked(browser, tmp_path):
    data = generate_company(3, 12, 4, seed=5)  # company 3: no edge cases
    frames = ErpFrames(data.contracts, data.items)
    checked = validate(frames, SUITES)
    assert checked.invalid_contracts.empty
    result = with_report(checked, frames.contracts["contract_no"], tmp_path / "run-2", "run-2")

    page, _, errors = _open(browser, result.docs_path.as_uri())

    shown = page.inner_text("body")
    assert "Every contract validated by this run passed every rule below." in shown
    assert page.locator("h3.suite").all_inner_texts() == [
        "Each contract header",
        "Each contract item",
        "Each contract's total",
    ]
    rules = page.locator("li").all_inner_texts()
    for said in (
        "each item's amount equals quantity × unit cost",
        "each contract's contract amount equals the sum of its item amounts",
        "each contract's ERP status is one of pending, open, soft-closed, hard-closed",
        "each contract's retainage % is between 0 % and 100 %",
        "each contract's title is 1 to 30 characters long",
        "no two items have the same contract number and item number",
        "each item's quantity is 0 when its unit is LS (A lump-sum item (UM LS) has no units: "
        "its amount is set directly.)",
        "each item's description: not blank, at most 255 characters, no control characters",
    ):
        assert said in rules, said
    # One sentence per rule the run checked: the suites' own and the store's limits.
    assert len(rules) == len(checks(SUITES))
    assert "expect_" not in shown and "{" not in shown
    assert errors == []
    page.close()


def test_the_audit_chart_reads_on_a_dark_screen(browser, tmp_path):
    import pandas as pd

    timeline = pd.DataFrame(
        {"reimported": [3, 1], "blocked": [2, 5]}, index=pd.Index(["2026-11-20", "2026-11-21"])
    )
    chart = tmp_path / "chart.html"
    chart.write_text(
        "<!doctype html><html><body style='background:#111;color:#eee'>"
        + timeline_svg(timeline)
        + "</body></html>"
    )
    page, _, errors = _open(browser, chart.as_uri(), dark=True)
    backdrop = page.locator("svg > rect").first
    assert backdrop.get_attribute("fill") == "#ffffff"  # the chart brings its own light ground
    box = page.locator("svg").bounding_box()
    ground = backdrop.bounding_box()
    assert (ground["width"], ground["height"]) == (box["width"], box["height"])
    legend = page.locator("svg text").last
    assert legend.get_attribute("fill") not in ("#ffffff", "white")
    assert errors == []
    page.close()
