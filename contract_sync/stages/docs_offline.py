"""Makes GX's Data Docs render offline: its pages load their CSS and scripts from CDNs."""

from __future__ import annotations

import re
from pathlib import Path

_EXTERNAL = re.compile(
    r'<link[^>]+href="https?://[^"]+"[^>]*>|<script[^>]+src="https?://[^"]+"[^>]*>\s*</script>'
    r'|<img[^>]+src="https?://[^"]+"[^>]*>',
    re.IGNORECASE,
)
_REMOTE_CSS_URL = re.compile(r"url\(['\"]?https?://[^)]+\)", re.IGNORECASE)
_STYLE = """<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
a { color: #0b5cad; }
.text-danger, .fa-times { color: #b00020; }
.text-success, .fa-check-circle { color: #1b7f3b; }
</style>"""


def make_offline(docs_dir: Path) -> int:
    """Drop every reference to a remote asset and inline a small stylesheet; returns pages."""
    pages = 0
    for page in docs_dir.rglob("*.html"):
        html = _EXTERNAL.sub("", page.read_text(encoding="utf-8"))
        html = _REMOTE_CSS_URL.sub("none", html)
        page.write_text(html.replace("</head>", _STYLE + "</head>", 1), encoding="utf-8")
        pages += 1
    return pages
