"""Fetch a venue statement live with ccxt (the optional ``ccxt`` extra): a thin adapter.

``stratops recon fetch`` writes, for one account on one venue, the statement folder that
:func:`~stratops.ops.reconciliation.statement.read_statement` reads, from ccxt's unified calls:

- ``trades.jsonl``: ``fetch_my_trades(symbol, since)`` of each symbol;
- ``orders.jsonl``: ``fetch_orders(symbol, since)`` of each symbol, and ``fetch_order(id,
  symbol)`` of each order a trade names that was placed before ``since`` (where the venue's
  trades name their order but not its client order id, the orders carry it);
- a spot account: ``balances.jsonl``, one ``fetch_balance()``;
- a contract account: ``positions.jsonl``, one ``fetch_positions(symbols)`` (the long and short
  legs of a symbol in hedge mode netted into one position, flat ones left out: a flat position
  is an absent one), and ``funding.jsonl``, ``fetch_funding_history(symbol, since)`` of each
  perpetual swap. Its balance is not written: a contract account's balance is margin (wallet
  plus unrealised profit at the venue's mark price, which the ledger does not have); what moves
  it — trades, fees, funding, the position — is each reconciled.

A statement is one account: its symbols are all spot, all linear contracts or all inverse ones
(Binance's spot wallet and its two futures wallets are three accounts, ccxt ``binance``, or
``binanceusdm`` and ``binancecoinm``). Each kind is asked for a day at a time (ccxt's ``until``;
a day is the longest window every venue answers: Binance's spot trades and orders refuse more
than 24 hours, its futures trades answer at most a week from ``since``), and within a day page
by page, forward by time. Items before ``since`` or from ``until`` on are left out.

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

from stratops.ops.reconciliation.statement import (
    BALANCES_FILE,
    FUNDING_FILE,
    ORDERS_FILE,
    POSITIONS_FILE,
    TRADES_FILE,
)
from stratops.unavailable import Unavailable

INSTALL_HINT: Final = "pip install 'stratops[ccxt]'"
PAGE: Final = 500
"""Items asked for per call (Binance's default page; every venue takes at least this)."""
DAY_MS: Final = 24 * 3600 * 1000
"""The window each call asks for (ccxt's ``until``): the longest every venue answers."""

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


def _day(
    exchange: Any, what: str, page: Callable[..., list[Item]], start: int, end: int
) -> dict[str, Item]:
    """The items of ``[start, end]`` (ms) by id, page by page; ``page(since, limit, params)``
    is one call.

    The next page starts at the last page's newest time (not after it: items of that
    millisecond may continue on the next page), and items already seen are skipped by id.
    """
    found: dict[str, Item] = {}
    cursor = start
    while True:
        items = _call(exchange, what, partial(page, cursor, PAGE, {"until": end}))
        new = [i for i in items if str(i.get("id")) not in found]
        found.update((str(i.get("id")), i) for i in new)
        stamps = [int(i["timestamp"]) for i in items if i.get("timestamp") is not None]
        if len(items) < PAGE or (stamps and max(stamps) >= end):
            return found
        if not new or not stamps:  # a full page of what was seen: time cannot move on
            raise VenueRejected(
                f"{exchange.id}: more than {PAGE} items at {cursor} ms to {what}: they cannot "
                "be paged by time"
            )
        cursor = max(stamps)


def _forward(
    exchange: Any,
    what: str,
    page: Callable[..., list[Item]],
    since: int,
    until: int,
    tick: Callable[[], None],
) -> list[Item]:
    """Every item of ``[since, until)`` (ms), a day at a time (:data:`DAY_MS`), by time."""
    found: dict[str, Item] = {}
    for start in range(since, until, DAY_MS):
        found.update(_day(exchange, what, page, start, min(start + DAY_MS, until)))
        tick()
    kept = [
        i
        for i in found.values()
        if i.get("timestamp") is not None and since <= int(i["timestamp"]) < until
    ]
    return sorted(kept, key=lambda i: (int(i["timestamp"]), str(i.get("id"))))


@dataclass(frozen=True)
class Statement:
    """A fetched statement: ccxt unified structures, as the venue's ccxt adapter returned them.

    ``balance`` is a spot account's; ``positions`` and ``funding`` a contract account's.
    """

    trades: list[Item]
    orders: list[Item]
    balance: Item | None = None
    positions: list[Item] | None = None
    funding: list[Item] | None = None

    def files(self) -> dict[str, str]:
        """File name → JSON lines, for what was fetched."""

        def lines(items: Sequence[Item]) -> str:
            return "".join(json.dumps(i, sort_keys=True, default=str) + "\n" for i in items)

        parts = {
            TRADES_FILE: self.trades,
            ORDERS_FILE: self.orders,
            BALANCES_FILE: None if self.balance is None else [self.balance],
            POSITIONS_FILE: self.positions,
            FUNDING_FILE: self.funding,
        }
        return {name: lines(items) for name, items in parts.items() if items is not None}

    def counts(self) -> dict[str, int | None]:
        """How many items of each kind; None for a kind this account does not have."""
        return {
            "trades": len(self.trades),
            "orders": len(self.orders),
            "positions": None if self.positions is None else len(self.positions),
            "funding": None if self.funding is None else len(self.funding),
        }


def _account(exchange: Any, symbols: Sequence[str]) -> str:
    """The one account the markets of ``symbols`` are in: spot, linear or inverse."""
    kinds: dict[str, list[str]] = {}
    for symbol in symbols:
        market = exchange.markets[symbol]
        if not market.get("contract"):
            kind = "spot"
        else:
            kind = "linear" if market.get("linear") else "inverse"
        kinds.setdefault(kind, []).append(symbol)
    if len(kinds) > 1:
        mixed = "; ".join(f"{kind}: {', '.join(found)}" for kind, found in sorted(kinds.items()))
        raise VenueRejected(
            f"one statement is one account, and these symbols are in {len(kinds)} ({mixed}): "
            "fetch each into a folder of its own"
        )
    return next(iter(kinds))


def _net(positions: Sequence[Item]) -> list[Item]:
    """One open position per symbol: hedge mode's long and short legs netted, flat ones left
    out, in symbol order."""
    by_symbol: dict[str, list[Item]] = {}
    for position in positions:
        if position.get("contracts") and position.get("side") in ("long", "short"):
            by_symbol.setdefault(str(position["symbol"]), []).append(position)
    netted = []
    for symbol, legs in sorted(by_symbol.items()):
        if len(legs) == 1:
            netted.append(legs[0])
            continue
        net = sum(float(p["contracts"]) * (1 if p["side"] == "long" else -1) for p in legs)
        if net:
            stamps = [int(p["timestamp"]) for p in legs if p.get("timestamp") is not None]
            netted.append(
                {"symbol": symbol, "side": "long" if net > 0 else "short", "contracts": abs(net),
                 "contractSize": legs[0].get("contractSize"), "hedged": True,
                 "timestamp": max(stamps, default=None), "info": [p.get("info") for p in legs]}
            )  # fmt: skip
    return netted


def fetch_statement(
    exchange: Any,
    symbols: Sequence[str],
    since: int,
    until: int,
    progress: Callable[[int, int], None] | None = None,
) -> Statement:
    """The account's trades and orders of ``symbols`` in ``[since, until)`` (ms), and its
    balance (spot) or its positions and funding (contracts); ``progress(done, total)`` after
    each day of each kind of each symbol.

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
    spot = _account(exchange, symbols) == "spot"
    swaps = [s for s in symbols if not spot and exchange.markets[s].get("swap")]
    total = len(range(since, until, DAY_MS)) * (2 * len(symbols) + len(swaps))  # days × kinds
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    trades: list[Item] = []
    orders: list[Item] = []
    funding: list[Item] = []
    for symbol in symbols:
        mine = partial(exchange.fetch_my_trades, symbol)
        traded = _forward(exchange, f"fetch the trades of {symbol}", mine, since, until, tick)
        sent = partial(exchange.fetch_orders, symbol)
        placed = _forward(exchange, f"fetch the orders of {symbol}", sent, since, until, tick)
        known = {str(o.get("id")) for o in placed}
        earlier = sorted({str(t["order"]) for t in traded if t.get("order")} - known)
        for order in earlier:  # placed before ``since``, filled after: their client order ids
            one = partial(exchange.fetch_order, order, symbol)
            placed.append(_call(exchange, f"fetch order {order} of {symbol}", one))
        trades += traded
        orders += placed
        if symbol in swaps:
            paid = partial(exchange.fetch_funding_history, symbol)
            what = f"fetch the funding of {symbol}"
            funding += _forward(exchange, what, paid, since, until, tick)
    if spot:
        balance = _call(exchange, "fetch the balance", exchange.fetch_balance)
        return Statement(trades=trades, orders=orders, balance=balance)
    held = partial(exchange.fetch_positions, list(symbols))
    positions = _net(_call(exchange, "fetch the positions", held))
    return Statement(trades=trades, orders=orders, positions=positions, funding=funding)


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
