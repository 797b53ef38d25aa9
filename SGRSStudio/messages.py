"""The Studio's messages: a banner for the newest one and a log of all of them the user can reopen.

The banner's open state is the server's (``message_open``), so dismissing it never hides the next
message; the log (``messages``, newest first) keeps what was dismissed.
"""
from __future__ import annotations

import re
from pathlib import Path

from trame.widgets import html
from trame.widgets import vuetify3 as v3

KEEP = 200
ICONS = {"error": "mdi-alert-circle", "warning": "mdi-alert", "success": "mdi-check-circle",
         "info": "mdi-information"}
_ABSOLUTE = re.compile(r"(?<![\w.])/(?:[^\s/'\":,;]+/)+([^\s/'\":,;]*)")


def tidy(text: str, data_dir: Path) -> str:
    """One readable line: paths inside the data folder become relative ("results/a.nrrd"), other
    absolute paths their last part; SimpleITK's multi-line reports keep their first line."""
    text = str(text).strip()
    first = text.splitlines()[0] if text else ""
    if "itk::ERROR" in text or "ITK ERROR" in text:
        first = first.split("itk::ERROR")[0].split("ITK ERROR")[0].rstrip(" :") or "the image could not be read"
    root = str(Path(data_dir).resolve())
    first = first.replace(root + "/", "").replace(root, "the data folder")
    return _ABSOLUTE.sub(lambda m: m.group(1) or m.group(0), first)


def append(log: list, text: str, kind: str, when: str) -> list:
    n = (log[0]["id"] + 1) if log else 1
    return [{"id": n, "text": text, "kind": kind, "time": when, "icon": ICONS.get(kind, ICONS["info"])}] + \
        list(log)[:KEEP - 1]


def build() -> None:
    """The banner (newest message) and, when opened, the log under it. A finished run's banner carries
    the flag's tooltip (``message_tip``: what it means, how often it has been right), as the Regions
    panel's flag does; on a box, because VAlert's ``title`` is a heading."""
    with html.Div(title=("message_tip",), id="studio-message-box"):
        v3.VAlert(v_model=("message_open",), text=("message",), type=("message_type",), density="compact",
                  closable=True, classes="ma-2", id="studio-message", style="overflow-wrap: anywhere")
    with v3.VCard(v_show="log_open", classes="ma-2", id="message-log", variant="outlined"):
        with v3.VCardTitle(classes="d-flex text-subtitle-2"):
            html.Span("Messages")
            v3.VSpacer()
            v3.VBtn("Close", size="x-small", variant="text", click="log_open = false", id="message-log-close")
        html.Div("No messages yet.", v_if="!messages.length", classes="text-caption pa-2")
        with v3.VList(density="compact", max_height=260, classes="overflow-y-auto"):
            v3.VListItem(v_for="m in messages", key="m.id", title=("m.text",), subtitle=("m.time",),
                         prepend_icon=("m.icon",), base_color=("m.kind === 'error' ? 'error' : "
                                                               "(m.kind === 'warning' ? 'warning' : undefined)",),
                         lines="three", classes="message-entry")


def build_log_button() -> None:
    with v3.VBtn(click="log_open = !log_open", variant="text", size="small", id="message-log-open",
                 title="Messages: every success and error of this session"):
        v3.VIcon("mdi-bell-outline")
        html.Span("{{ messages.length }}", classes="ml-1")
