"""Fetch a venue statement live with ccxt (the optional ``ccxt`` extra): a thin adapter.

``stratops recon fetch`` writes, for one account on one venue, the statement folder that
:func:`~stratops.ops.reconciliation.statement.read_statement` reads, from ccxt's unified calls:

- ``trades.jsonl``: ``fetch_my_trades(symbol, since)`` of each symbol, paged forward by time;
- ``orders.jsonl``: ``fetch_orders(symbol, since)`` of each symbol, paged the same way, and
  ``fetch_order(id, symbol)`` of each order a trade names that was placed before ``since``
  (where the venue's trades name their order but not its client order id, the orders carry it);
- ``balances.jsonl``: one ``fetch_balance()``.

Items before ``since`` or from ``until`` on are left out. Positions and funding (contract
markets) are not fetched: those files are absent, so they are not compared.

The credentials come from the environment, never the command line:
``STRATOPS_<VENUE>_API_KEY``, ``STRATOPS_<VENUE>_SECRET`` and, for venues that want one,
``STRATOPS_<VENUE>_PASSWORD`` (``<VENUE>`` the ccxt id in capitals). ``api_host`` sends every
request to another ``scheme://host[:port]`` with the venue's own paths (a desk's egress proxy;
the stand-in venue of the tests); ccxt classifies some venue error codes by the venue's own
host names, so behind another host those are reported as the venue's refusal, generically.

Errors are translated at this edge (ccxt's never leave it)::

    FetchError                   cannot fetch; exit 2 unless said otherwise
    ├── CcxtMissing              the extra is not installed (pip install 'stratops[ccxt]')
    ├── VenueRejected            unknown venue or symbol, missing or refused credentials,
    │                            a request the venue refused: fix the input
    └── VenueUnavailable         network, rate limit, maintenance: retry (an Unavailable, exit 3)

The folder is written whole or not at all: the files go to a new folder beside ``out``, which
then replaces it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from stratops.ops.reconciliation.statement import BALANCES_FILE, ORDERS_FILE, TRADES_FILE
from stratops.unavailable import Unavailable

INSTALL_HINT: Final = "pip install 'stratops[ccxt]'"
PAGE: Final = 500
"""Items asked for per call (Binance's default page; every venue takes at least this)."""

Item = dict[str, Any]


class FetchError(Exception):
    """A statement could not be fetched."""


class CcxtMissing(FetchError):
    """The optional ``ccxt`` extra is not installed."""


class VenueRejected(FetchError):
    """The venue, a symbol or the credentials are wrong, or the venue refused a request."""


class VenueUnavailable(FetchError, Unavailable):
    """The venue cannot be reached now; the same fetch may succeed later."""


def _ccxt() -> Any:
    try:
        import ccxt  # the optional extra
    except ImportError as exc:
        raise CcxtMissing(
            f"fetching a venue statement needs ccxt, an optional extra: {INSTALL_HINT}"
        ) from exc
    return ccxt


@dataclass(frozen=True)
class Credentials:
    api_key: str
    secret: str
    password: str | None = field(default=None, repr=False)

    @staticmethod
    def variables(venue: str) -> tuple[str, str, str]:
        prefix = f"STRATOPS_{venue.upper().replace('-', '_')}"
        return f"{prefix}_API_KEY", f"{prefix}_SECRET", f"{prefix}_PASSWORD"

    @classmethod
    def from_env(cls, venue: str, env: Mapping[str, str]) -> Credentials:
        """The venue's credentials from ``env``; VenueRejected naming what is missing."""
        key, secret, password = cls.variables(venue)
        missing = [name for name in (key, secret) if not env.get(name)]
        if missing:
            raise VenueRejected(
                f"no credentials for {venue}: set {' and '.join(missing)} (a read-only API key "
                "of the account is enough)"
            )
        return cls(env[key], env[secret], env.get(password) or None)


def _rehost(urls: Any, host: str) -> Any:
    """``urls`` (a ccxt ``urls['api']`` value: a URL or nested dicts of them) on ``host``."""
    if isinstance(urls, dict):
        return {name: _rehost(value, host) for name, value in urls.items()}
    if not isinstance(urls, str):
        return urls
    target = urlsplit(host)
    parts = urlsplit(urls)
    return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))


def connect(venue: str, credentials: Credentials, api_host: str | None = None) -> Any:
    """A ccxt exchange for ``venue`` (its ccxt id) with ``credentials``, markets loaded.

    Raises
    ------
    CcxtMissing, VenueRejected, VenueUnavailable
    """
    ccxt = _ccxt()
    if venue not in ccxt.exchanges:
        raise VenueRejected(
            f"unknown venue {venue!r}: expected a ccxt exchange id (binance, bybit, okx, "
            f"kraken, ...; {len(ccxt.exchanges)} in ccxt {ccxt.__version__})"
        )
    config: dict[str, Any] = {
        "apiKey": credentials.api_key,
        "secret": credentials.secret,
        "enableRateLimit": True,
        "options": {"fetchCurrencies": False},  # markets are enough; currencies may be private
    }
    if credentials.password:
        config["password"] = credentials.password
    exchange = getattr(ccxt, venue)(config)
    if api_host is not None:
        if urlsplit(api_host).scheme not in ("http", "https") or not urlsplit(api_host).netloc:
            raise VenueRejected(f"--api-host {api_host!r}: expected scheme://host[:port]")
        exchange.urls["api"] = _rehost(exchange.urls["api"], api_host)
    _call(exchange, "load the markets", exchange.load_markets)
    return exchange


def _call(exchange: Any, what: str, call: Callable[[], Any]) -> Any:
    """``call()``, with ccxt's errors translated (:class:`FetchError`)."""
    ccxt = _ccxt()
    venue = exchange.id
    try:
        return call()
    except ccxt.AuthenticationError as exc:  # and its PermissionDenied, AccountSuspended
        raise VenueRejected(
            f"{venue} refused the credentials to {what}: {exc} (check the API key, its secret "
            "and its read permission)"
        ) from exc
    except ccxt.BadSymbol as exc:
        raise VenueRejected(f"{venue} does not list the symbol to {what}: {exc}") from exc
    except ccxt.NetworkError as exc:  # timeouts, rate limits, maintenance, DDoS protection
        raise VenueUnavailable(f"{venue} is unavailable to {what}: {exc}") from exc
    except ccxt.BaseError as exc:
        raise VenueRejected(f"{venue} refused to {what}: {exc}") from exc


def _forward(
    exchange: Any,
    what: str,
    page: Callable[[int, int], list[Item]],
    since: int,
    until: int | None,
) -> list[Item]:
    """Every item from ``since`` (ms) on, page by page; ``page(since, limit)`` is one call.

    The next page starts at the last page's newest time (not after it: items of that
    millisecond may continue on the next page), and items already seen are skipped by id.
    """
    found: dict[str, Item] = {}
    cursor = since
    while True:
        items = _call(exchange, what, partial(page, cursor, PAGE))
        new = [i for i in items if str(i.get("id")) not in found]
        found.update((str(i.get("id")), i) for i in new)
        stamps = [int(i["timestamp"]) for i in items if i.get("timestamp") is not None]
        if len(items) < PAGE or (until is not None and stamps and max(stamps) >= until):
            break
        if not new or not stamps:  # a full page of what was seen: time cannot move on
            raise VenueRejected(
                f"{exchange.id}: more than {PAGE} items at {cursor} ms to {what}: they cannot "
                "be paged by time"
            )
        cursor = max(stamps)
    kept = [
        i
        for i in found.values()
        if i.get("timestamp") is not None
        and int(i["timestamp"]) >= since
        and (until is None or int(i["timestamp"]) < until)
    ]
    return sorted(kept, key=lambda i: (int(i["timestamp"]), str(i.get("id"))))


@dataclass(frozen=True)
class Statement:
    """A fetched statement: ccxt unified structures, as the venue's ccxt adapter returned them."""

    trades: list[Item]
    orders: list[Item]
    balance: Item

    def files(self) -> dict[str, str]:
        """File name → JSON lines."""

        def lines(items: Sequence[Item]) -> str:
            return "".join(json.dumps(i, sort_keys=True, default=str) + "\n" for i in items)

        return {
            TRADES_FILE: lines(self.trades),
            ORDERS_FILE: lines(self.orders),
            BALANCES_FILE: lines([self.balance]),
        }


def fetch_statement(
    exchange: Any, symbols: Sequence[str], since: int, until: int | None = None
) -> Statement:
    """The account's trades and orders of ``symbols`` in ``[since, until)`` (ms), and its
    balance now.

    Raises
    ------
    VenueRejected, VenueUnavailable
    """
    unknown = [s for s in symbols if s not in exchange.markets]
    if unknown:
        raise VenueRejected(
            f"{exchange.id} does not list {', '.join(unknown)} (unified symbols such as "
            "BTC/USDT, or BTC/USDT:USDT for a linear perpetual)"
        )
    trades: list[Item] = []
    orders: list[Item] = []
    for symbol in symbols:
        mine = partial(exchange.fetch_my_trades, symbol)
        traded = _forward(exchange, f"fetch the trades of {symbol}", mine, since, until)
        sent = partial(exchange.fetch_orders, symbol)
        placed = _forward(exchange, f"fetch the orders of {symbol}", sent, since, until)
        known = {str(o.get("id")) for o in placed}
        earlier = sorted({str(t["order"]) for t in traded if t.get("order")} - known)
        for order in earlier:  # placed before ``since``, filled after: their client order ids
            one = partial(exchange.fetch_order, order, symbol)
            placed.append(_call(exchange, f"fetch order {order} of {symbol}", one))
        trades += traded
        orders += placed
    balance = _call(exchange, "fetch the balance", exchange.fetch_balance)
    return Statement(trades=trades, orders=orders, balance=balance)


def write_statement(out: Path, statement: Statement) -> None:
    """Write ``statement`` as the folder ``out``, replacing what it held, whole or not at all."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.fetch-"))
    old = out.parent / f"{staging.name}.old"
    try:
        for name, text in statement.files().items():
            with (staging / name).open("w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        if out.exists():
            out.rename(old)
        staging.rename(out)
    except BaseException:
        if old.exists() and not out.exists():
            old.rename(out)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
