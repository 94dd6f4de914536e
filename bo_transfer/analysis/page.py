"""``index.html``: one self-contained page (figures embedded as base64 PNG, no
scripts, no external resources) for browsing a sweep's report, in reading
order under a table of contents."""

from __future__ import annotations

import base64
import html
import io

from matplotlib.figure import Figure

_STYLE = """
* { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 1em 1.5em; max-width: 1400px;
  color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; margin: 0.2em 0; } h2 { font-size: 1.2em; margin-top: 1.6em; }
h3 { font-size: 1em; }
nav.toc { font-size: 0.9em; margin: 0.5em 0; } nav.toc a { margin-right: 1em; white-space: nowrap; }
.summary { background: #f4f6fa; border-left: 4px solid #0072B2; padding: 0.6em 1em; }
.summary p { margin: 0.3em 0; } .summary ul { margin: 0.3em 0; }
.scroll { max-width: 100%; overflow-x: auto; }
table.report { border-collapse: collapse; font-size: 0.85em; }
table.report th, table.report td { border-bottom: 1px solid #ddd; padding: 0.2em 0.5em;
  text-align: right; white-space: nowrap; }
table.report th { vertical-align: bottom; white-space: normal; }
table.report th:first-child, table.report td:first-child { text-align: left; }
table.report td.name, table.report th.name { text-align: left; white-space: normal;
  min-width: 12em; max-width: 26em; }
table.report th.group { text-align: center; border-bottom: 1px solid #888; white-space: normal; }
table.pivot td, table.pivot th { padding: 0.2em 0.35em; }
table.diagnostics td { white-space: normal; min-width: 4em; }
table.pivot th { white-space: normal; min-width: 3.5em; }
tr.negative td, td.negative { background: #f4c7c3; }
tr.positive td, td.positive { background: #c6e6cc; }
td.equivalent { background: #e8eef6; }
tr.baseline td { font-style: italic; }
span.swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.4em;
  border-radius: 2px; vertical-align: -0.05em; }
figure { margin: 1em 0; } figure img { max-width: min(100%, 1150px); height: auto; }
figcaption, p.caption { font-size: 0.9em; color: #555; max-width: 75em; }
details { margin: 0.3em 0; } details > summary { cursor: pointer; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.8em;
  white-space: pre-wrap; }
"""


def png_bytes(fig: Figure, dpi: int = 130) -> bytes:
    """``fig`` rendered as PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def data_uri(png: bytes) -> str:
    """A PNG ``data:`` URI (embeds the image in the page)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def figure_html(anchor: str, heading: str, caption: str, fig: Figure | bytes) -> str:
    """A figure with its heading and caption, embedded as PNG."""
    png = fig if isinstance(fig, bytes) else png_bytes(fig)
    return (
        f'<h3 id="{html.escape(anchor)}">{html.escape(heading)}</h3><figure>'
        f'<img src="{data_uri(png)}" alt="{html.escape(heading)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def render_page(title: str, lead: str, sections: list[tuple[str, str, str]]) -> str:
    """The page's HTML: the title, ``lead`` (trusted HTML: the summary), a
    table of contents, then the sections in order.

    Args:
        title: the page title (plain text).
        lead: HTML shown right under the title, before the contents.
        sections: ``(anchor, heading, html body)`` triples; bodies are trusted
            HTML built by this package (tables are escaped there).
    """
    toc = " ".join(f'<a href="#{html.escape(a)}">{html.escape(h)}</a>' for a, h, _ in sections)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        lead,
        f'<nav class="toc">Contents: {toc}</nav>',
    ]
    for anchor, heading, body in sections:
        parts.append(
            f'<section id="{html.escape(anchor)}"><h2>{html.escape(heading)}</h2>{body}</section>'
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
