"""Pages and charts from the Jinja2 templates in templates/: autoescaped, so that every
value from the ERP, the store or the audit log is text, never markup."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

TEMPLATES = Path(__file__).resolve().parent / "templates"


@lru_cache
def _templates():  # -> jinja2.Environment
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
    )
    environment.filters["blank"] = lambda v: "" if v is None or pd.isna(v) else v
    return environment


def render(template: str, **values: object) -> str:
    return _templates().get_template(template).render(**values)
