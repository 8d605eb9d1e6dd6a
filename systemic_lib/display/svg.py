"""Charts as SVG for a report page: crisp text on a projector and on paper, and lighter than a PNG in base64.

``figure_svg(fig)`` draws a matplotlib figure as SVG with its text as text (the page's CSS gives the font, the
type scale of ``charts/style.py`` gives the sizes), and any collection of more than ``RASTER_ABOVE`` marks (a
per-case chart's dots) as one embedded image, so a chart of 1,600 cases stays small. ``for_page(svg, ...)`` makes
any SVG (matplotlib's or Graphviz's) fit to sit inside an HTML page: no XML prolog, comments or metadata; an
accessible name (``role="img"`` and a ``<title>``); ids made unique on the page, and the ones nothing refers to
removed. Text from data arrives already escaped by whoever wrote the SVG (matplotlib, Graphviz); the title is
escaped here.
"""

from __future__ import annotations

import base64
import html
import io
import re

__all__ = ["RASTER_ABOVE", "figure_svg", "for_page"]

#: A collection with more marks than this is drawn as an image inside the SVG (its text and lines stay vector).
RASTER_ABOVE = 300
#: Resolution of those embedded images (the chart's own DPI: the same pixels as the PNG charts before).
RASTER_DPI = 100

_PROLOG = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*|<!--.*?-->\s*|<metadata>.*?</metadata>\s*", re.S)
_TITLE = re.compile(r"<title>.*?</title>\s*", re.S)
_FONT_FAMILY = re.compile(r"font-family:[^;\"]*;?\s*")
_ID = re.compile(r'\sid="([^"]*)"')
_REFERENCE = re.compile(r'url\(#([^)]+)\)|href="#([^"]+)"')
_SVG_OPEN = re.compile(r"<svg\b([^>]*)>")
_PNG = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=\s]+)")
#: Colours of an embedded image after compaction: dots in a handful of meaning colours plus their anti-aliasing.
RASTER_COLOURS = 64


def figure_svg(fig) -> str:
    """The figure as SVG text: text as text, dense collections as an embedded image, no date or tool metadata (the
    same chart gives the same bytes)."""
    import matplotlib as mpl

    for ax in fig.axes:
        for collection in ax.collections:
            offsets = collection.get_offsets()
            if offsets is not None and len(offsets) > RASTER_ABOVE:
                collection.set_rasterized(True)
    buf = io.BytesIO()
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "systemic", "svg.image_inline": True}):
        fig.savefig(buf, format="svg", bbox_inches="tight", dpi=RASTER_DPI, metadata={"Date": None, "Creator": None})
    return _PNG.sub(lambda m: "data:image/png;base64," + _compact(m.group(1)), buf.getvalue().decode("utf-8"))


def _compact(b64: str) -> str:
    """An embedded image with its colours cut to ``RASTER_COLOURS`` (transparency kept), if that is smaller: a
    chart's dots are a few flat colours, so they stay sharp at a third of the size."""
    try:
        from PIL import Image

        raw = base64.b64decode("".join(b64.split()))
        image = Image.open(io.BytesIO(raw)).convert("RGBA")
        buf = io.BytesIO()
        image.quantize(RASTER_COLOURS, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
            buf, "PNG", optimize=False, compress_level=6
        )
        return base64.b64encode(buf.getvalue() if buf.tell() < len(raw) else raw).decode("ascii")
    except Exception:
        return b64


def for_page(svg: str, *, prefix: str, label: str, cls: str = "chart-svg") -> str:
    """``svg`` ready to sit inline in a page: prolog, comments, metadata and the tool's own ``<title>`` elements gone;
    font families left to the page's CSS; ids that something refers to made unique with ``prefix``, every other id
    removed; ``role="img"``, ``aria-labelledby`` and a ``<title>`` holding ``label`` (escaped) on the ``<svg>``."""
    svg = _TITLE.sub("", _PROLOG.sub("", svg))
    svg = _FONT_FAMILY.sub("", svg)
    # ids something refers to are renamed in order of first mention (a tool's hashed names can differ by a float's
    # last digit from one drawing to the next); every other id goes
    names: dict[str, str] = {}
    for a, b in _REFERENCE.findall(svg):
        names.setdefault(a or b, f"{prefix}-{len(names) + 1}")
    svg = _ID.sub(lambda m: f' id="{names[m.group(1)]}"' if m.group(1) in names else "", svg)
    svg = _REFERENCE.sub(lambda m: f"url(#{names[m.group(1)]})" if m.group(1) else f'href="#{names[m.group(2)]}"', svg)
    title_id = f"{prefix}-title"
    opened = _SVG_OPEN.search(svg)
    if opened is None:
        raise ValueError("not an SVG document")
    attrs = re.sub(r'\s(?:role|aria-[a-z]+|class)="[^"]*"', "", opened.group(1))
    head = (
        f'<svg{attrs} class="{cls}" role="img" aria-labelledby="{title_id}">'
        f'<title id="{title_id}">{html.escape(label)}</title>'
    )
    return svg[: opened.start()] + head + svg[opened.end() :]
