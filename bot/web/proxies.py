"""Who the client is: X-Forwarded-For is believed only from a proxy named in LOOPLINE_TRUSTED_PROXIES."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from starlette.types import ASGIApp, Receive, Scope, Send

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


@functools.lru_cache(maxsize=4096)  # the same few peers and proxies, request after request
def _address(text: str) -> Address | None:
    try:
        found = ip_address(text.strip())
    except ValueError:
        return None
    return (found.ipv4_mapped or found) if isinstance(found, IPv6Address) else found


def client_host(peer: str, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client's address. The connection's peer, unless the peer is a trusted proxy: then the right-most address
    of X-Forwarded-For (every such header, in order) that is not itself a trusted proxy; what the client wrote left
    of it is never believed. A hop that is not an address stops the walk at the proxy that passed it on."""
    current = _address(peer)
    if current is None:
        return peer[:100] or "unknown"

    def is_trusted(address: Address) -> bool:
        return any(address in network for network in trusted if network.version == address.version)

    hops = [hop for header in forwarded_for for hop in header.split(",")]
    while is_trusted(current) and hops:
        previous = _address(hops.pop())
        if previous is None:
            break
        current = previous
    return str(current)


class TrustedProxies:
    """ASGI middleware: the request's client becomes client_host's answer, so sign-in throttling, the audit log and
    uvicorn's access log (which reads the same scope) all name the same address. `serve` turns uvicorn's own
    proxy-header handling off: this is the one place that reads X-Forwarded-For."""

    def __init__(self, app: ASGIApp, trusted: Sequence[Network]) -> None:
        self.app, self.trusted = app, tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            peer = scope.get("client") or ("", 0)
            forwarded = [value.decode("latin-1") for name, value in scope["headers"] if name == b"x-forwarded-for"]
            scope["client"] = (client_host(str(peer[0]), forwarded, self.trusted), peer[1])
        await self.app(scope, receive, send)
