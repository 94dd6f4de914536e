"""``index.html``: one self-contained page (figures embedded as base64 PNG, no
scripts, no external resources) for browsing a sweep's report."""

from __future__ import annotations

import base64
import html
import io

from matplotlib.figure import Figure

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table.report { border-collapse: collapse; font-size: 0.85em; }
table.report th, table.report td { border-bottom: 1px solid #ddd; padding: 0.25em 0.6em;
  text-align: right; white-space: nowrap; }
table.report th:nth-child(-n+2), table.report td:nth-child(-n+2) { text-align: left; }
table.report td:first-child { white-space: normal; overflow-wrap: anywhere; max-width: 16em; }
tr.negative td { background: #fde2e1; } tr.positive td { background: #e2f5e4; }
tr.baseline td { font-style: italic; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; }
figcaption, p.caption { font-size: 0.9em; color: #555; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.8em; }
"""


def png_bytes(fig: Figure, dpi: int = 130) -> bytes:
    """``fig`` rendered as PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def data_uri(png: bytes) -> str:
    """A PNG ``data:`` URI (embeds the image in the page)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render_page(
    title: str,
    sections: list[tuple[str, str]],
    figures: list[tuple[str, str, Figure | bytes]],
) -> str:
    """The page's HTML.

    Args:
        title: the page title (plain text).
        sections: ``(heading, html body)`` pairs shown first, in order; bodies
            are trusted HTML built by this package (tables are escaped there).
        figures: ``(heading, caption, figure or its PNG bytes)`` triples, each
            embedded as PNG.
    """
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for heading, body in sections:
        parts.append(f"<section><h2>{html.escape(heading)}</h2>{body}</section>")
    for heading, caption, fig in figures:
        png = fig if isinstance(fig, bytes) else png_bytes(fig)
        parts.append(
            f"<section><h2>{html.escape(heading)}</h2><figure>"
            f'<img src="{data_uri(png)}" alt="{html.escape(heading)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure></section>"
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
