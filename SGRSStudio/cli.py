"""``sgrs-studio``: serve the Studio. Loopback only unless --host says otherwise (then a warning):
the Studio has no login, so reach it from another machine through an SSH tunnel."""
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
    return (f"WARNING: sgrs-studio is binding to {host}: anyone who can reach this address can use the "
            "Studio and its data folder (there is no login). Prefer the default 127.0.0.1 and an SSH tunnel "
            "(see docs/studio.md).")


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
                    sample=None if args.no_sample else SAMPLE)
    timeout = idle_timeout_s(args)
    until = f"stops after {args.idle_exit:g} min with no browser connected" if timeout else "runs until Ctrl-C"
    print(f"SGRS Studio on http://{args.host}:{args.port}/  (data: {studio.data_dir}; {until})", flush=True)
    studio.server.start(port=args.port, host=args.host, open_browser=False, timeout=timeout)
    print("SGRS Studio stopped" + (f" after {args.idle_exit:g} min without a browser" if timeout else "")
          + f"; the scene is saved in {studio.data_dir / 'workspace'} and reopens on the next start.", flush=True)
    return 0
