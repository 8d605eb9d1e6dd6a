"""Small widget helpers every step uses: escaped HTML, buttons with keyboard shortcuts, messages, tables.

Every piece of text from a council (a citizen's words, a service name, a condition) goes through ``esc``.
"""

from __future__ import annotations

import html as _html

import ipywidgets as w
import pandas as pd

from systemic_lib.display.widgets._table import html_table

WIDE = w.Layout(width="95%")
LABEL = {"description_width": "200px"}


def esc(text) -> str:
    return _html.escape("" if text is None or (isinstance(text, float) and pd.isna(text)) else str(text))


def html(markup: str = "", *classes: str) -> w.HTML:
    """An HTML widget showing markup built here (already escaped)."""
    box = w.HTML(markup)
    for c in classes:
        box.add_class(c)
    return box


def button(
    text: str,
    *,
    key: str | None = None,
    classes=(),
    primary: bool = False,
    width: str = "auto",
    tooltip: str | None = None,
) -> w.Button:
    """A button; ``key`` makes that key press it (outside a text box) and says so on the button."""
    b = w.Button(
        description=f"{text} [{key.upper() if len(key) == 1 else key}]" if key else text,
        button_style="primary" if primary else "",
        layout=w.Layout(width=width),
        tooltip=tooltip or text,
    )
    if key:
        b.add_class(f"coach-key-{key.lower()}")
    for c in classes:
        b.add_class(c)
    return b


def message(kind: str, text: str) -> str:
    """A saved / problem message as escaped HTML (``kind`` ok or problem)."""
    colour = "#1d5a8c" if kind == "ok" else "#8f4300"
    role = "status" if kind == "ok" else "alert"
    return f'<p role="{role}" style="color:{colour};font-weight:bold">{esc(text)}</p>'


def table(frame: pd.DataFrame, *, empty: str = "Nothing yet.", **kwargs) -> str:
    """An escaped table, or a plain note when there are no rows."""
    if frame is None or frame.empty:
        return f'<p class="note">{esc(empty)}</p>'
    return html_table(frame, **kwargs)


def settle(widget: w.Widget) -> w.Widget:
    """Text boxes in ``widget`` (and every widget inside it) send what was typed when the person leaves the box
    (``continuous_update`` off), not keystroke by keystroke.

    With updates per keystroke, ipywidgets holds back each update until the kernel has answered the one before,
    while a button's click goes at once: a click right after fast typing reached the kernel before the last letters
    ("… before they go o" for "… before they go out"). Leaving the box (the click itself does) sends the whole text
    first, and the click after it."""
    if isinstance(widget, (w.Text, w.Textarea)):
        widget.continuous_update = False
    for child in getattr(widget, "children", ()) or ():
        settle(child)
    return widget


def heading(title: str, intro: str = "") -> w.HTML:
    """The step's title and a sentence or two on what the team does here."""
    return html(f"<h2>{esc(title)}</h2>" + (f"<p>{esc(intro)}</p>" if intro else ""))
