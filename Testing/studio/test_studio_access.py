"""Only the holder of the Studio's token gets anything (issue 25): another account on the same machine
can reach a loopback port, so every request and websocket without the token or its cookie gets 403."""
import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from harness import CHROMIUM, CHROMIUM_ARGS, ROOT, free_port, printed_url, start_server

from SGRSStudio.access import REFUSED, TOKEN_ENV, Access
from SGRSStudio.cli import access_for, parser

pytest.importorskip("trame_slicer")
aiohttp = pytest.importorskip("aiohttp")
LAUNCHER = str(Path(__file__).with_name("verbose_launcher.py"))
TOKEN = "test-token-Zq8vLr3M"   # set through $SGRS_STUDIO_TOKEN: the test knows what to look for in the log


async def wait_until_served(base: str) -> None:
    async with aiohttp.ClientSession() as client:
        for _ in range(600):
            try:
                async with client.get(base + "index.html") as response:
                    if response.status:
                        return
            except aiohttp.ClientError:
                await asyncio.sleep(0.5)
    raise AssertionError("the Studio never answered")


async def refused(client, method: str, url: str, **kwargs) -> None:
    async with client.request(method, url, allow_redirects=False, **kwargs) as response:
        body = await response.text()
        assert response.status == 403, (url, response.status)
        assert body == REFUSED and "set-cookie" not in response.headers, url


async def strangers_get_nothing(base: str, data: Path) -> None:
    """A client without the token (or with a wrong one, or another Studio's cookie) gets 403 for all."""
    stranger = aiohttp.CookieJar(unsafe=True)   # unsafe: keep cookies of an IP address, as a browser does
    stranger.update_cookies({Access("another studio's").cookie_name: TOKEN, "token": TOKEN})
    async with aiohttp.ClientSession(cookie_jar=stranger) as client:
        for path in ("", "index.html", "vue.global.js", "data-files/results/note.txt", "?token=wrong",
                     "index.html?token=" + TOKEN[:-1], "index.html?token=" + TOKEN + "x"):
            await refused(client, "GET", base + path)
        with pytest.raises(aiohttp.WSServerHandshakeError) as handshake:
            await client.ws_connect(base + "ws")
        assert handshake.value.status == 403
        # uploads travel over that websocket; nor does any HTTP request write to the data folder
        form = aiohttp.FormData()
        form.add_field("file", b"not a scan", filename="scan.nrrd")
        await refused(client, "POST", base, data=form)
        await refused(client, "PUT", base + "data-files/uploads/scan.nrrd", data=b"not a scan")
    assert not (data / "uploads").exists() or not any((data / "uploads").rglob("*.nrrd"))


async def the_token_holder_gets_in(url: str, base: str) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as client:
        async with client.get(url) as response:   # / -> index.html, the token carried along
            assert response.status == 200 and "<html" in (await response.text()).lower()
            cookies = [h for r in (*response.history, response) for h in r.headers.getall("Set-Cookie", [])]
        assert cookies and all("HttpOnly" in c and "SameSite=Strict" in c for c in cookies), cookies
        for path in ("", "index.html", "vue.global.js", "data-files/results/note.txt"):   # the cookie alone
            async with client.get(base + path) as response:
                assert response.status == 200, (path, response.status)
        async with client.get(base + "data-files/results/note.txt") as response:
            assert await response.text() == "a saved result"
        ws = await client.ws_connect(base + "ws")   # the websocket, on the cookie
        await ws.close()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as client:
        ws = await client.ws_connect(f"{base}ws?token={TOKEN}")   # or on the token itself
        await ws.close()


async def in_chromium(url: str, base: str) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = await browser.new_page()
        await page.goto(url)
        await page.wait_for_selector("#tab-segment", timeout=120000)
        assert TOKEN not in page.url                                   # out of the address bar and history
        assert TOKEN not in await page.evaluate("document.cookie")     # HttpOnly: no script reads it
        await page.reload()                                            # the cookie lets the reload in
        await page.wait_for_selector("#tab-segment", timeout=120000)
        assert await page.locator("#panel-data", has_text="Data folder").count() == 1   # websocket up
        stranger = await browser.new_context()   # another user's browser: no token, no cookie
        page = await stranger.new_page()
        response = await page.goto(base)
        assert response.status == 403 and await page.locator("#tab-segment").count() == 0
        await browser.close()


def test_without_the_token_a_client_gets_nothing_and_the_log_keeps_it_secret(tmp_path):
    data, port, log = tmp_path / "data", free_port(), tmp_path / "server.log"
    (data / "results").mkdir(parents=True)
    (data / "results" / "note.txt").write_text("a saved result")
    server = start_server(data, tmp_path / "models", port, log, "--no-sample", launcher=(LAUNCHER,),
                          env=dict(os.environ, **{TOKEN_ENV: TOKEN}))
    try:
        url = printed_url(log)
        base = f"http://127.0.0.1:{port}/"
        assert url == f"{base}?token={TOKEN}" and parse_qs(urlsplit(url).query) == {"token": [TOKEN]}

        async def flow():
            await wait_until_served(base)
            await strangers_get_nothing(base, data)
            await the_token_holder_gets_in(url, base)
            await in_chromium(url, base)

        asyncio.run(flow())
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)
    lines = log.read_text(errors="replace").splitlines()
    printed = [line for line in lines if line.startswith("SGRS Studio on")]
    assert [line for line in lines if TOKEN in line] == printed and len(printed) == 1
    # the access log did write the requests that carried it, with the token blanked out
    assert any("aiohttp.access" in line and "GET /?token=<token>" in line for line in lines), lines[-40:]
    assert not any("App running at" in line for line in lines)   # trame's own address line has no token


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "SGRSStudio", *args], capture_output=True, text=True, timeout=120,
                          env=dict(env or os.environ, PYTHONPATH=str(ROOT)))


def test_no_token_only_on_loopback_and_never_an_empty_token(tmp_path):
    off_loopback = run_cli("--no-token", "--host", "0.0.0.0", "--data", str(tmp_path))
    assert off_loopback.returncode == 2 and off_loopback.stdout == ""
    assert off_loopback.stderr.count("\n") == 1 and "--no-token is refused with --host 0.0.0.0" in off_loopback.stderr
    empty = run_cli("--token", " ", "--data", str(tmp_path))
    assert empty.returncode == 2 and empty.stderr.strip().endswith("must not be empty")
    assert empty.stderr.count("\n") == 1
    assert not any(tmp_path.iterdir())   # refused before anything was made

    def chosen(*argv, env=None):
        os.environ.pop(TOKEN_ENV, None)
        os.environ.update(env or {})
        try:
            return access_for(parser().parse_args(list(argv)))
        finally:
            os.environ.pop(TOKEN_ENV, None)

    assert chosen("--no-token")[0].token is None and chosen("--no-token", "--host", "::1")[0].token is None
    assert chosen("--token", "mine")[0].token == "mine"
    assert chosen("--token", "mine", env={TOKEN_ENV: "env"})[0].token == "mine"   # the option wins
    assert chosen(env={TOKEN_ENV: "env"})[0].token == "env"
    first, second = chosen()[0].token, chosen()[0].token
    assert first != second and len(first) >= 40   # random, 32 bytes
    with pytest.raises(SystemExit):
        parser().parse_args(["--no-token", "--token", "x"])


def test_the_printed_address_quotes_the_token_and_brackets_ipv6():
    access = Access("a b/c")
    assert access.url("127.0.0.1", 8080) == "http://127.0.0.1:8080/?token=a%20b%2Fc"
    assert access.url("::1", 80) == "http://[::1]:80/?token=a%20b%2Fc"
    assert Access(None).url("localhost", 8080) == "http://localhost:8080/"
    assert access.matches("a b/c") and not access.matches("a b/d") and not access.matches(None)
    assert not Access(None).matches("")
