"""Step 1, Choose: the service to work on, what data the council has for each step and what is missing, and (in a
room) the join URL, its access code and a QR code for the people joining from their own laptops."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import ipywidgets as w

from systemic_lib.coach import ui
from systemic_lib.coach.readiness import data_by_step


def join_panel(join: str) -> str:
    """The join URL, its access code and a QR code drawn here (an inline SVG: nothing leaves the machine)."""
    import segno

    code = (parse_qs(urlparse(join).query).get("token") or [""])[0]
    qr = segno.make(join, error="m").svg_inline(scale=4, dark="#1f2a33", light="#ffffff")
    return (
        f'<div class="coach-join" style="display:flex;gap:24px;align-items:center;border:2px solid #1d5a8c;'
        f'padding:12px;margin:8px 0"><div class="coach-qr" aria-hidden="true">{qr}</div><div>'
        f"<h3>Join from your own laptop</h3><p>Open <b class='coach-join-url'>{ui.esc(join)}</b></p>"
        f"<p>Access code: <b class='coach-access-code' style='font-size:32px;letter-spacing:4px'>"
        f"{ui.esc(code)}</b></p></div></div>"
    )


def build(app) -> w.Widget:
    services = app.readiness.services
    picker = w.Dropdown(
        description="Service",
        options=[(name, sid) for sid, name in services.items()],
        value=app.service,
        style=ui.LABEL,
        layout=w.Layout(width="560px"),
    )
    picker.add_class("coach-service")
    have = ui.html()

    def refresh(*_):
        app.set_service(picker.value)
        rows = data_by_step(app.readiness.council, picker.value)
        have.value = "<h3>What the council has for each step</h3>" + ui.table(rows, empty="No data yet.")

    picker.observe(refresh, names="value")
    refresh()
    parts = [
        ui.heading(
            "Choose the service",
            "Pick the service the team is looking at. The table says what data the council folder holds "
            "for each step of Check and what is missing; nothing here needs code.",
        ),
        picker,
        have,
    ]
    if app.join:
        parts.insert(1, ui.html(join_panel(app.join)))
    return w.VBox(parts)
