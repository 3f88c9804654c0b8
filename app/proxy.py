"""Behind a reverse proxy: trust X-Forwarded-For/-Proto/-Host only from the configured proxy addresses.

XINMIAO_TRUSTED_PROXIES lists addresses or networks (comma or space separated, e.g. ``127.0.0.1, 10.0.0.0/24``).
A request whose sender (REMOTE_ADDR) is one of them goes through Werkzeug's ProxyFix, one hop: the client address
is the last one the proxy appended to X-Forwarded-For, the scheme and host are the proxy's X-Forwarded-Proto/-Host.
A request from any other sender has its X-Forwarded-* headers removed, so that nothing downstream (throttles,
audit, url_for) ever believes them. Without the setting no sender is trusted.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_KEYS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
                  "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX", "HTTP_FORWARDED")
# The address the WSGI server bound, before ProxyFix replaces SERVER_NAME with the forwarded host.
BOUND_SERVER_NAME = "xinmiao.bound_server_name"


class ProxySettingError(ValueError):
    pass


def parse_trusted_proxies(value: str | Iterable[str] | None) -> tuple[Network, ...]:
    """The networks of XINMIAO_TRUSTED_PROXIES; a clear error naming the entry that is not an address."""
    if not value:
        return ()
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ProxySettingError(
                f"XINMIAO_TRUSTED_PROXIES: {item!r} is not an IP address or network (e.g. 127.0.0.1 or 10.0.0.0/24)"
            ) from None
    return tuple(networks)


def is_trusted(addr: str | None, networks: tuple[Network, ...]) -> bool:
    if not addr or not networks:
        return False
    try:
        ip = ipaddress.ip_address(addr.strip("[]"))
    except ValueError:
        return False
    return any(ip in net for net in networks)


class TrustedProxyFix:
    """WSGI middleware: ProxyFix for requests sent by a trusted proxy, forwarded headers stripped for the rest."""

    def __init__(self, app: Any, networks: tuple[Network, ...]):
        self.app = app
        self.networks = networks
        self.fixed = ProxyFix(app, x_for=1, x_proto=1, x_host=1, x_port=0, x_prefix=0)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ.setdefault(BOUND_SERVER_NAME, environ.get("SERVER_NAME", ""))
        if is_trusted(environ.get("REMOTE_ADDR"), self.networks):
            return self.fixed(environ, start_response)
        for key in FORWARDED_KEYS:
            environ.pop(key, None)
        return self.app(environ, start_response)


def install(app: Any) -> None:
    """Wrap app.wsgi_app once, with the networks of app.config["TRUSTED_PROXIES"]."""
    networks = parse_trusted_proxies(app.config.get("TRUSTED_PROXIES"))
    app.config["TRUSTED_PROXY_NETWORKS"] = networks
    app.wsgi_app = TrustedProxyFix(app.wsgi_app, networks)
