"""The coach app's server: Voilà with the room's door, the join address, its own kernel culler and quiet logs.

``systemic coach`` (``server.py``) builds a ``CoachVoila`` and starts it in its own process. See ``server.py`` for what
each part is for. Imported only when the app is served: Voilà and tornado take a second to import.
"""

from __future__ import annotations

import hmac
import html
import re
import sys
import time
import webbrowser

import click
from jupyter_core.utils import ensure_async
from jupyter_server.auth.identity import IdentityProvider
from jupyter_server.auth.login import LoginFormHandler
from jupyter_server.auth.logout import LogoutHandler
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.log import log_request
from tornado import ioloop, web
from tornado.escape import url_escape
from traitlets import Float, Type, Unicode
from voila.app import Voila
from voila.static_file_handler import TemplateStaticFileHandler

#: Seconds a kernel may have no page connected before it is shut down; how often that is looked at.
CULL_AFTER = 30.0
CULL_EVERY = 5.0
#: Seconds a kernel waits for its page's first connection (the page's scripts loading on a slow laptop).
FIRST_CONNECT = 45.0


def normalise_code(text: str | None) -> str:
    """The code as a person may type it ("abcd 2345", " ABCD2345 "), as the app issued it ("ABCD2345")."""
    return "".join(str(text or "").split()).upper()


DOOR_PAGE = """<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Join the workshop</title>
<style>
body {{ font-family: "DejaVu Sans", Arial, sans-serif; color: #1f2a33; background: #fff; margin: 0; }}
main {{ max-width: 640px; margin: 12vh auto; padding: 0 24px; font-size: 20px; line-height: 1.5; }}
h1 {{ font-size: 34px; margin: 0 0 12px; }}
label {{ display: block; font-weight: bold; margin: 24px 0 6px; }}
input {{ font-size: 30px; letter-spacing: 4px; padding: 8px 12px; width: 12em; max-width: 100%;
  border: 2px solid #4a5560; text-transform: uppercase; }}
button {{ font-size: 22px; padding: 10px 24px; margin-top: 16px; background: #1d5a8c; color: #fff; border: 0; }}
input:focus, button:focus {{ outline: 3px solid #b3261e; outline-offset: 2px; }}
.problem {{ color: #8f4300; font-weight: bold; }}
</style></head>
<body><main>
<h1>Join the workshop</h1>
<p>Ask the coach for the room code.</p>
{message}
<form method="post" action="{action}">
{xsrf}
<label for="code">Room code</label>
<input id="code" name="code" autocomplete="off" autocapitalize="characters" spellcheck="false" autofocus>
<br><button type="submit">Join</button>
</form>
</main></body></html>
"""
WRONG_CODE = "That is not the room code. Check it with the coach and type it again."


def door_page(*, action: str, xsrf: str = "", wrong: bool = False) -> str:
    """The plain page a person sees without the code: ask the coach, type it here."""
    message = f'<p class="problem" role="alert">{html.escape(WRONG_CODE)}</p>' if wrong else ""
    return DOOR_PAGE.format(message=message, action=html.escape(action, quote=True), xsrf=xsrf)


class Door(LoginFormHandler):
    """Without the code: the plain page (GET), and the code typed into it (POST; 401 and the page again when
    it is not the code)."""

    def _render(self, message=None):
        nxt = self.get_argument("next", default=self.base_url)
        self.write(
            door_page(
                action=f"{self.base_url}login?next={url_escape(nxt)}",
                xsrf=self.xsrf_form_html(),
                wrong=message is not None,
            )
        )


class RoomIdentity(IdentityProvider):
    """Token authentication that reads the code as people type it, with the door as its login page."""

    def get_token(self, handler):
        return normalise_code(super().get_token(handler))

    def process_login_form(self, handler):
        typed = normalise_code(handler.get_argument("code", default=""))
        if typed and self.token and hmac.compare_digest(typed, self.token):
            return self.generate_anonymous_user(handler)
        return None

    def get_handlers(self):
        return [(r"/login", Door), (r"/logout", LogoutHandler)]


class Join(JupyterHandler):
    """``/join``: the workshop's join page (the code in the address, or typed at the door first)."""

    @web.authenticated
    def get(self):
        self.redirect(f"{self.base_url}?join=1")


class TemplateFiles(TemplateStaticFileHandler):
    """Voilà's template files, with a malformed address answered 404 (Voilà's own raises: a 500 and a
    traceback in the log)."""

    def parse_url_path(self, path):
        if not re.fullmatch(r"[\w.-]+/static/[^\\]+", path or ""):
            raise web.HTTPError(404)
        try:
            return super().parse_url_path(path)
        except web.HTTPError:
            raise
        except Exception:
            raise web.HTTPError(404) from None


class Culler:
    """Shut down each kernel that has had no page connected for ``after`` seconds (and is not running code). A
    kernel no page has connected to yet (its page still loading, or given up while loading) gets ``FIRST_CONNECT``
    seconds, so that a page on a slow laptop is not cut off between its render and its first connection."""

    def __init__(self, manager, after: float, log):
        self.manager, self.after, self.log = manager, after, log
        self.quiet_since: dict[str, float] = {}
        self.connected: set[str] = set()

    async def __call__(self) -> None:
        now = time.monotonic()
        ids = list(self.manager.list_kernel_ids())
        for kernel_id in ids:
            try:
                model = self.manager.kernel_model(kernel_id)
            except Exception:
                continue
            if model.get("connections"):
                self.connected.add(kernel_id)
            if model.get("connections") or model.get("execution_state") not in ("idle", "dead"):
                self.quiet_since.pop(kernel_id, None)
                continue
            since = self.quiet_since.setdefault(kernel_id, now)
            grace = self.after if kernel_id in self.connected else max(self.after, FIRST_CONNECT)
            if now - since >= grace:
                await self.free(kernel_id)
        for gone in set(self.quiet_since) - set(ids):
            self.quiet_since.pop(gone, None)
        self.connected &= set(ids)

    async def free(self, kernel_id: str) -> None:
        self.quiet_since.pop(kernel_id, None)
        self.log.info("Freeing kernel %s: its page was closed or reloaded", kernel_id)
        try:
            await ensure_async(self.manager.shutdown_kernel(kernel_id))
        except Exception as exc:  # already gone
            self.log.debug("kernel %s: %s", kernel_id, exc)


class CoachVoila(Voila):
    identity_provider_class = Type(default_value=RoomIdentity, klass=IdentityProvider, config=True)
    cull_after = Float(CULL_AFTER, config=True, help="Seconds a kernel may have no page before it is freed.")
    announce = Unicode("")
    open_browser_at = Unicode("")

    def init_settings(self):
        settings = super().init_settings()
        settings["log_function"] = log_request  # scrubs ?token= from every logged address
        return settings

    def init_handlers(self):
        ours = [(r"/join", Join), (r"/voila/templates/(.*)", TemplateFiles)]
        return ours + super().init_handlers()  # tornado takes the first pattern that matches

    def listen(self):
        try:
            self.app.listen(self.port, self.ip)
        except OSError as exc:
            self.log.critical("The coach app could not listen on port %s: %s", self.port, exc)
            raise click.ClickException(
                f"the coach app could not listen on port {self.port} (is the port in use? try --port)"
            ) from None
        self.ioloop = ioloop.IOLoop.current()
        culler = Culler(self.kernel_manager, self.cull_after, self.log)
        ioloop.PeriodicCallback(culler, min(CULL_EVERY, max(self.cull_after / 3, 0.5)) * 1000).start()
        click.echo(self.announce)  # the socket listens: the address works when it appears
        sys.stdout.flush()
        if self.open_browser_at:
            self.ioloop.add_callback(webbrowser.open, self.open_browser_at)
        try:
            self.ioloop.start()
        except KeyboardInterrupt:
            self.log.info("Stopping...")
        finally:
            self.stop()
