"""The pages a person opens, in a real browser (headless Chromium): a run's validation
report and the audit report render offline, say what they must, and read on light and
dark screens."""

from __future__ import annotations

from contract_sync.demo.generator import edge_case_contracts
from contract_sync.erp.vista import read_vista
from contract_sync.reports.audit import timeline_svg
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

    page, requested, errors = _open(browser, result.docs_path.as_uri())

    assert page.title() == "Validation of run run-1"
    assert set(page.locator("h3").all_inner_texts()) == {
        edge["invalid_unit_amount"],
        edge["invalid_header_total"],
    }
    shown = page.inner_text("body")
    assert "expect_column_pair_values_to_be_equal" in shown and '"37.51"' in shown
    assert f"contracts in scope\t{len(frames.contracts)}" in shown
    assert errors == [] and all(url.startswith("file://") for url in requested)
    assert result.docs_path.stat().st_size < 200_000
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
