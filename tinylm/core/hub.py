"""Can the Hugging Face Hub be reached? Asked in milliseconds, so an offline laptop fails in
seconds instead of retrying for minutes.

The address is the one huggingface_hub itself uses (`HF_ENDPOINT` sets a mirror, as campus
networks and some countries need). Behind a proxy a direct connection proves nothing, so then
the answer is "unknown" and `datasets` tries through the proxy with its own timeouts.
"""

from __future__ import annotations

import os
import socket
import urllib.request
from urllib.parse import urlsplit

OFFLINE_FLAGS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


def hub_address() -> tuple[str, int]:
    """(host, port) of the Hub endpoint huggingface_hub uses (`HF_ENDPOINT`: a mirror)."""
    from huggingface_hub import constants

    url = urlsplit(constants.ENDPOINT)
    return url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)


def hub_reachable(timeout_s: float = 3.0) -> bool | None:
    """True or False from a TCP connection to the endpoint; False when an offline flag is set;
    None (unknown) when a proxy stands in the way."""
    if any(os.environ.get(v, "").upper() in ("1", "ON", "YES", "TRUE") for v in OFFLINE_FLAGS):
        return False
    host, port = hub_address()
    proxies = urllib.request.getproxies()  # environment, Windows registry, macOS settings
    proxied = proxies.get("https") or proxies.get("http") or proxies.get("all")
    if proxied and not urllib.request.proxy_bypass(host):
        return None
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
