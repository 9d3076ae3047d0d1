"""A small document model (sections of text, tables and images) and its two renderings: HTML and Markdown.

The HTML is one self-contained file: styles inline, images as `data:` URIs, no script, and a
Content-Security-Policy that forbids any request, so it opens offline and leaks nothing. The
Markdown carries the same text and tables (for a pull-request comment, where data-URI images do
not display); an image appears there as its caption.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}th{background:#f3f3f3}
td.t,th.t{text-align:left}
caption{caption-side:top;text-align:left;font-weight:600;padding:.2rem 0}
figure{display:inline-block;margin:.5rem 1rem .5rem 0;vertical-align:top}
figcaption{font-size:.8rem;color:#444;max-width:36rem}
.note{color:#555;font-size:.85rem}.sep{font-weight:700;color:#b00}
"""
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


@dataclass(frozen=True)
class Table:
    """Rows of already formatted cells under `columns`; `heat` shades numeric cells (confusion matrices)."""

    columns: list[str]
    rows: list[list[str]]
    caption: str = ""
    heat: bool = False
    text_columns: tuple[int, ...] = (0,)  # indices of the text (left-aligned) columns; the rest are numbers


@dataclass(frozen=True)
class Image:
    """An inline image: its bytes, MIME type (image/png, image/gif) and a caption (also its alt text)."""

    data: bytes
    mime: str
    caption: str


@dataclass
class Section:
    """A titled part of the document; `blocks` are paragraphs (str), tables and images, in order."""

    id: str
    title: str
    blocks: list[str | Table | Image] = field(default_factory=list)


@dataclass
class Document:
    title: str
    sections: list[Section]


def _cell(text: str, heat: float | None) -> str:
    style = f' style="background:rgba(31,119,180,{heat:.2f})"' if heat else ""
    return f"<td{style}>{html.escape(text)}</td>"


def _table_html(table: Table) -> str:
    peak = 0.0
    if table.heat:
        peak = max((float(c) for row in table.rows for c in row[1:] if c.replace(".", "", 1).isdigit()), default=0.0)
    text = table.text_columns
    head = "".join(('<th class="t">' if i in text else "<th>") + f"{html.escape(c)}</th>" for i, c in enumerate(table.columns))
    body = []
    for row in table.rows:
        cells = []
        for i, c in enumerate(row):
            if i in text:
                cells.append(f'<td class="t">{html.escape(c)}</td>')
            else:
                heat = float(c) / peak * 0.8 if peak and c.replace(".", "", 1).isdigit() else None
                cells.append(_cell(c, heat))
        body.append("<tr>" + "".join(cells) + "</tr>")
    caption = f"<caption>{html.escape(table.caption)}</caption>" if table.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _image_html(image: Image) -> str:
    data = base64.b64encode(image.data).decode("ascii")
    alt = html.escape(image.caption, quote=True)
    return f'<figure><img src="data:{image.mime};base64,{data}" alt="{alt}"><figcaption>{html.escape(image.caption)}</figcaption></figure>'


def to_html(document: Document) -> str:
    """The document as one self-contained HTML page (no external resource, no script)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f"<title>{html.escape(document.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(document.title)}</h1>",
    ]
    for section in document.sections:
        parts.append(f'<section id="{html.escape(section.id)}"><h2>{html.escape(section.title)}</h2>')
        for block in section.blocks:
            if isinstance(block, Table):
                parts.append(_table_html(block))
            elif isinstance(block, Image):
                parts.append(_image_html(block))
            else:
                parts.append(f'<p class="note">{html.escape(block)}</p>')
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table_markdown(table: Table) -> str:
    """A GitHub-flavoured Markdown table (with its caption in bold above it)."""
    lines = [f"**{table.caption}**", ""] if table.caption else []
    lines.append("| " + " | ".join(map(_md_cell, table.columns)) + " |")
    lines.append("|" + "|".join(" --- " if i in table.text_columns else " ---: " for i in range(len(table.columns))) + "|")
    lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in table.rows]
    return "\n".join(lines)


def to_markdown(document: Document) -> str:
    """The document's text and tables as Markdown; images appear as their captions."""
    parts = [f"# {document.title}"]
    for section in document.sections:
        parts.append(f"## {section.title}")
        for block in section.blocks:
            if isinstance(block, Table):
                parts.append(table_markdown(block))
            elif isinstance(block, Image):
                parts.append(f"*{block.caption}* (image in the HTML report)")
            else:
                parts.append(block)
    return "\n\n".join(parts) + "\n"
