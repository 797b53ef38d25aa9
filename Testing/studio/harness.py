"""Run the Studio and a real chromium in one asyncio loop, so a test can click in the browser and
then assert on the real MRML nodes of the same process (no thread races with VTK).

Every page is opened at the address with the Studio's token, as a user opens the printed one:
``studio.access.url(...)`` in the test's process, the line ``sgrs-studio`` printed for a server
started as its own process (``start_server`` then ``open_started_server``)."""
from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]
PRINTED_URL = re.compile(r"^SGRS Studio on (http://\S+)", re.MULTILINE)
_server_logs: dict[int, Path] = {}   # port -> the log of the sgrs-studio process serving it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def studio_in_browser(studio, width=1400, height=900):
    """Start ``studio``'s server as a task of the running loop and open it in headless chromium."""
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright

    port = free_port()
    task = studio.server.start(port=port, host="127.0.0.1", exec_mode="task", open_browser=False,
                               disable_logging=True, show_connection_info=False)
    profile = tempfile.mkdtemp(prefix="sgrs-studio-chromium-")
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                viewport={"width": width, "height": height})
            try:
                page = browser.pages[0] if browser.pages else await browser.new_page()
                for attempt in range(100):  # the server task binds its port a moment after start()
                    try:
                        await page.goto(studio.access.url("127.0.0.1", port), timeout=5000)
                        break
                    except PlaywrightError:
                        if attempt == 99:
                            raise
                        await asyncio.sleep(0.2)
                await page.wait_for_selector("#tab-segment", timeout=60000)
                yield page
            finally:
                await browser.close()
    finally:
        await studio.server.stop()
        task.cancel()
        shutil.rmtree(profile, ignore_errors=True)


def start_server(data: Path, models: Path, port: int, log: Path, *args: str, env=None,
                 launcher=("-m", "SGRSStudio")) -> subprocess.Popen:
    """``sgrs-studio`` as its own process (own session, so a test can kill its whole group)."""
    env = dict(os.environ if env is None else env, PYTHONPATH=str(ROOT))
    _server_logs[port] = log
    with open(log, "w") as out:   # a file, not a pipe: VTK's warnings would fill a pipe and block it
        return subprocess.Popen([sys.executable, *launcher, "--data", str(data), "--models", str(models),
                                 "--port", str(port), *args], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def printed_url(log: Path, timeout: float = 300.0) -> str:
    """The address (token included) a started ``sgrs-studio`` printed, as a user would copy it."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = PRINTED_URL.search(log.read_text(errors="replace")) if log.exists() else None
        if found:
            return found.group(1)
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-2000:]
    raise AssertionError(f"sgrs-studio printed no address in {timeout:.0f} s: {tail}")


async def open_started_server(page, port: int) -> None:
    """Open a Studio started with ``start_server`` at the address it printed (it needs a while before it
    answers) and wait for the page."""
    url = printed_url(_server_logs[port])
    for _ in range(300):
        try:
            await page.goto(url, timeout=5000)
            break
        except Exception:  # noqa: BLE001
            await asyncio.sleep(0.5)
    await page.wait_for_selector("#tab-segment", timeout=120000)


async def wait_for(predicate, timeout=60.0, step=0.1, what="condition"):
    """Await (letting the server run) until ``predicate()`` is true."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        await asyncio.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


async def view_pixels(page) -> np.ndarray:
    """The rendered views as the browser shows them (RGB array of the views' area)."""
    from io import BytesIO

    from PIL import Image

    png = await page.locator("#views").screenshot()
    return np.asarray(Image.open(BytesIO(png)).convert("RGB")).astype(int)




def overlay_counts(rgb: np.ndarray) -> dict:
    """Pixels of each overlay colour in a screenshot: Δ cyan, Θ magenta, segmentation red (blended
    over grey, so tested by hue dominance rather than exact values)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return {"delta": int(((b > r + 80) & (g > r + 40)).sum()), "theta": int(((r > g + 80) & (b > g + 40)).sum()),
            "segmentation": int(((r > g + 40) & (r > b + 40)).sum())}


async def wait_for_pixels(page, predicate, timeout=30.0, what="the views to change"):
    """Screenshot the views until ``predicate(overlay_counts)`` holds; returns the counts."""
    end = time.monotonic() + timeout
    counts = None
    while time.monotonic() < end:
        counts = overlay_counts(await view_pixels(page))
        if predicate(counts):
            return counts
        await asyncio.sleep(0.1)
    await page.screenshot(path=str(Path(tempfile.gettempdir()) / "sgrs-studio-failure.png"))
    raise AssertionError(f"timed out waiting for {what}; last overlay pixel counts {counts}")


async def paint_stroke(page) -> None:
    """A short brush stroke in the axial view with the segment editor's paint effect."""
    await page.click("#panel-annotate button:has(.mdi-brush)")
    axial = await page.locator(".remote-controlled-area").nth(3).bounding_box()
    x, y = axial["x"] + axial["width"] * 0.3, axial["y"] + axial["height"] * 0.3
    await page.mouse.move(x, y)
    await page.mouse.down()
    for i in range(12):
        await page.mouse.move(x + 6 * i, y + 2 * i)
        await asyncio.sleep(0.03)
    await page.mouse.up()
