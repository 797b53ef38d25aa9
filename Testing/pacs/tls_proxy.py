"""HTTPS in front of the test Orthanc, as a hospital's reverse proxy puts it: Python's own TLS (ssl) terminating
each connection and passing the bytes on to Orthanc's plain port. (Orthanc 1.10's own HTTPS crashes on this
system's OpenSSL 3 at the first handshake, so the TLS end is this real server instead.)"""
from __future__ import annotations

import asyncio
import ssl
import threading

from orthanc_server import free_port


class TlsProxy:
    def __init__(self, pem, target_port: int):
        self.port, self.target = free_port(), target_port
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(pem))
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self.thread.start()
        started.wait(10)

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}/dicom-web"

    def _run(self, started) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port,
                                                                   ssl=self.context))
        started.set()
        self.loop.run_forever()
        server.close()

    async def _serve(self, reader, writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    @staticmethod
    async def _pipe(reader, writer) -> None:
        try:
            while data := await reader.read(1 << 16):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            writer.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
