"""``sgrs-studio``: serve the Studio. Loopback only unless --host says otherwise (then a warning), and
only to whoever opens the printed address with its token (``access.py``): reach it from another
machine through an SSH tunnel. ``--no-token`` (loopback only) starts it without one."""
from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from pathlib import Path


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_warning(host: str) -> str | None:
    """The warning printed before binding anything but loopback (None for loopback)."""
    if is_loopback(host):
        return None
    return (f"WARNING: sgrs-studio is binding to {host}: the Studio speaks plain HTTP, so anyone on the network "
            "path can read its pages and its token. Prefer the default 127.0.0.1 and an SSH tunnel "
            "(see docs/studio.md).")


def access_for(args):
    """The token the Studio asks for (--token, else $SGRS_STUDIO_TOKEN, else a random one), or an
    Access without one for --no-token. Returns (access, None) or (None, the one-line refusal)."""
    from .access import TOKEN_ENV, Access

    if args.no_token:
        if not is_loopback(args.host):
            return None, (f"sgrs-studio: --no-token is refused with --host {args.host}: without a token only a "
                          "loopback address (127.0.0.1, ::1, localhost) may be bound")
        return Access(None), None
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV)
    if token is None:
        return Access.random(), None
    if not token.strip():
        return None, f"sgrs-studio: the token (--token or ${TOKEN_ENV}) must not be empty"
    return Access(token), None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sgrs-studio", description="SGRS Studio: segment, inspect, annotate and "
                                "retrain in a web browser, on the real Slicer scene.")
    p.add_argument("--data", type=Path, default=Path.home() / ".sgrs" / "studio",
                   help="data folder: uploads, folders to open, saved results (default: ~/.sgrs/studio)")
    p.add_argument("--models", type=Path, default=None,
                   help="model registry folder (default: $SGRS_MODELS or ~/.sgrs/models)")
    p.add_argument("--jobs", type=Path, default=None, help="training job folders (default: DATA/jobs)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; use an SSH tunnel rather than another address)")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--token", default=None, metavar="VALUE",
                     help="the token the browser must present (default: $SGRS_STUDIO_TOKEN, else a random one "
                          "printed in the address at start)")
    who.add_argument("--no-token", action="store_true",
                     help="serve without a token: anyone with an account on this machine can open the Studio; "
                          "refused unless --host is a loopback address")
    p.add_argument("--max-upload-mb", type=int, default=1024, help="largest accepted upload (default 1024 MB)")
    p.add_argument("--no-sample", action="store_true", help="start with an empty scene")
    p.add_argument("--idle-exit", type=float, default=None, metavar="MINUTES",
                   help="stop the server after this many minutes with no browser connected (default: run "
                        "until stopped with Ctrl-C; the scene is saved in the data folder either way)")
    return p


def idle_timeout_s(args) -> int:
    """wslink's idle reaper: off (0) unless the user asked for --idle-exit."""
    if args.idle_exit is None:
        return 0
    return max(1, int(round(args.idle_exit * 60)))


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    access, refusal = access_for(args)
    if refusal:
        print(refusal, file=sys.stderr)
        return 2
    warning = host_warning(args.host)
    if warning:
        print(warning, file=sys.stderr)
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        # a headless server: render through EGL at once instead of failing over from X with a warning
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    from trame.app import get_server

    from .app import SAMPLE, Studio

    sys.argv = sys.argv[:1]  # trame parses sys.argv too: only our parser's values must count
    server = get_server("sgrs-studio", client_type="vue3")
    studio = Studio(args.data, args.models, args.jobs, server=server, max_upload_mb=args.max_upload_mb,
                    sample=None if args.no_sample else SAMPLE, access=access)
    timeout = idle_timeout_s(args)
    until = f"stops after {args.idle_exit:g} min with no browser connected" if timeout else "runs until Ctrl-C"
    if access.token is None:
        print("No token: anyone with an account on this machine can open the Studio.", flush=True)
    # the one line that shows the token (trame's own "App running at" would show the address without it)
    print(f"SGRS Studio on {access.url(args.host, args.port)}  (data: {studio.data_dir}; {until})", flush=True)
    studio.server.start(port=args.port, host=args.host, open_browser=False, timeout=timeout,
                        show_connection_info=False)
    print("SGRS Studio stopped" + (f" after {args.idle_exit:g} min without a browser" if timeout else "")
          + f"; the scene is saved in {studio.data_dir / 'workspace'} and reopens on the next start.", flush=True)
    return 0
