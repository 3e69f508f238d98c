"""Great Expectations imported with scipy.stats, altair and jsonschema deferred
(stages/gx_import.py).

Each check runs in an interpreter of its own: the test session may have imported them."""

from __future__ import annotations

from tests.new_interpreter import python


def test_a_validation_with_its_report_never_imports_the_deferred_modules(tmp_path):
    printed = python(
        f"""
        import sys
        from pathlib import Path
        from contract_sync.demo.generator import generate_company
        from contract_sync.model import ErpFrames
        from contract_sync.reports.validation import with_report
        from contract_sync.stages.validate import run_suites, validate
        from contract_sync.stages.gx_import import DEFERRED

        data = generate_company(1, 30, 4, seed=5)  # company 1: edge cases, so failures
        in_gx = lambda erp, suites: run_suites(erp, suites, in_gx=True)
        erp = ErpFrames(data.contracts, data.items)
        checked = validate(erp, Path("expectations"), suites=in_gx)
        numbers = data.contracts["contract_no"]
        result = with_report(checked, numbers, Path({str(tmp_path)!r}), "run-1")
        assert not result.invalid_contracts.empty
        print(*(type(sys.modules[name]).__name__ for name in DEFERRED))
        inside = ("scipy.stats._stats_py", "altair.vegalite", "jsonschema.validators")
        print(*(name in sys.modules for name in inside))
        """
    )
    assert printed.splitlines() == ["_StandIn _StandIn _StandIn", "False False False"]
    assert any(tmp_path.rglob("*.html"))  # the report was written


def test_a_deferred_module_works_once_asked_for_from_any_thread():
    printed = python(
        """
        import sys, threading
        from contract_sync.stages.gx_import import great_expectations

        great_expectations()
        from scipy import stats
        import altair
        import jsonschema

        found = []
        threads = [threading.Thread(target=lambda: found.append(stats.entropy)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        real = sys.modules["scipy.stats"]
        print(type(real).__name__, len(found), all(f is real.entropy for f in found))
        print(round(stats.entropy([0.5, 0.5], [0.25, 0.75]), 6))
        print(altair.Chart.__name__, type(sys.modules["altair"]).__name__)
        try:
            jsonschema.validate(1, {"type": "string"})
        except jsonschema.ValidationError as error:
            print(error.message, type(sys.modules["jsonschema"]).__name__)
        """
    )
    assert printed.splitlines() == [
        "module 4 True",
        "0.143841",
        "Chart module",
        "1 is not of type 'string' module",
    ]
