"""Credentials for a DICOMweb server, from the environment or a netrc file; never from the URL.

Order: ``SGRS_DICOMWEB_TOKEN`` (HTTP bearer), then ``SGRS_DICOMWEB_USER`` + ``SGRS_DICOMWEB_PASSWORD``
(HTTP basic), then the server's host in ``$NETRC`` or ``~/.netrc``. The secret lives only in the
``requests`` auth object: it is added to each request when it is sent, so no URL, log line, error
message or summary ever holds it.
"""
from __future__ import annotations

import netrc
import os
from pathlib import Path
from urllib.parse import urlsplit

from ..util.errors import InputError

TOKEN, USER, PASSWORD = "SGRS_DICOMWEB_TOKEN", "SGRS_DICOMWEB_USER", "SGRS_DICOMWEB_PASSWORD"


def _bearer(token: str):
    import requests

    class Bearer(requests.auth.AuthBase):
        def __call__(self, request):
            request.headers["Authorization"] = f"Bearer {token}"
            return request

        def __repr__(self):
            return "Bearer(***)"

    return Bearer()


def _netrc_entry(host: str):
    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    if not path.is_file():
        return None
    try:
        entry = netrc.netrc(str(path)).authenticators(host)
    except (netrc.NetrcParseError, OSError) as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(f"{path}: cannot read this netrc file{f' (line {line})' if line else ''}") from None
    return entry


def check_url(url: str) -> None:
    if urlsplit(url).username or urlsplit(url).password:
        raise InputError("put DICOMweb credentials in the environment "
                         f"({USER}/{PASSWORD} or {TOKEN}) or a netrc file, not in the URL")


def auth_for(url: str):
    """(requests auth object or None, where it came from: 'environment' | 'netrc' | 'none')."""
    import requests

    check_url(url)
    if os.environ.get(TOKEN):
        return _bearer(os.environ[TOKEN]), "environment"
    if os.environ.get(USER):
        return requests.auth.HTTPBasicAuth(os.environ[USER], os.environ.get(PASSWORD, "")), "environment"
    entry = _netrc_entry(urlsplit(url).hostname or "")
    if entry and entry[0] is not None:
        return requests.auth.HTTPBasicAuth(entry[0], entry[2] or ""), "netrc"
    return None, "none"
