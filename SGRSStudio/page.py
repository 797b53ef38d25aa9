"""The page the browser loads: trame's own ``index.html``, told where the Studio's websocket is.

Without a ``sessionURL`` trame's client first POSTs to ``paraview/`` (the address of a ParaViewWeb
launcher, which the Studio is not), gets 405, and only then falls back to ``ws/``: a refused request
in the browser's console and the server's log on every page load. The script below names the
websocket in the page's URL before the client reads it (the client removes it from the address bar
again), exactly where the fallback would have gone. It also takes the Studio's token out of the
address bar (and so out of the history and of what a user copies): the cookie it set lets reloads in.
"""
from __future__ import annotations

from pathlib import Path

NAME_THE_WEBSOCKET = """<script>
(function () {
  var query = new URLSearchParams(location.search);
  var hadToken = query.has("token");
  query.delete("token");
  var path = location.pathname.replace(/[^/]*\\.html?$/, "").replace(/\\/+$/, "");
  var ws = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path + "/ws";
  // trame's client lower-cases the URL it is given: a path with capitals keeps the fallback
  if (!query.has("sessionURL") && ws === ws.toLowerCase()) {
    query.set("sessionURL", ws);
    history.replaceState(history.state, "", location.pathname + "?" + query + location.hash);
  } else if (hadToken) {
    history.replaceState(history.state, "", location.pathname + (String(query) ? "?" + query : "") + location.hash);
  }
})();
</script>
"""


def index_html(www: str | Path) -> str:
    page = (Path(www) / "index.html").read_text(encoding="utf-8")
    if "<head>" not in page:
        return page   # another client build: serve it as it is
    return page.replace("<head>", "<head>\n" + NAME_THE_WEBSOCKET, 1)


def serve_index(wslink_server) -> None:
    """``ctrl.on_server_bind``: routes added here win over wslink's static files."""
    from aiohttp import web
    from trame_client.module import vue3

    page = index_html(vue3.www)

    async def index(_request):
        return web.Response(text=page, content_type="text/html",
                            headers={"Cache-Control": "no-cache, no-store, must-revalidate"})

    wslink_server.app.router.add_get("/index.html", index)
