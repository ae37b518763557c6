"""The stand-in Binance (``fake_binance.py``) as a process, ``stratops recon fetch`` at it, and
the desk's fills its accounts are made of."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from typer.testing import CliRunner, Result

from stratops.cli.main import app
from stratops.ops.reconciliation.fetch import Credentials
from stratops.ops.reconciliation.frames import NO_KEY, TRADE

FAKE = Path(__file__).with_name("fake_binance.py")
KEY, SECRET = "desk-read-only-key", "desk-secret"


def credentials(venue: str = "binance") -> dict[str, str]:
    """The environment giving ``venue`` the stand-in's key and secret."""
    key, secret, _ = Credentials.variables(venue)
    return {key: KEY, secret: SECRET}


class Venue:
    def __init__(self, folder: Path) -> None:
        self.account_file = folder / "account.json"
        self.requests_file = folder / "requests.jsonl"
        self.url = ""

    def write(self, account: dict[str, Any]) -> None:
        """The account the next requests are answered from."""
        self.account_file.write_text(json.dumps(account), encoding="utf-8")

    def requests(self) -> list[dict[str, Any]]:
        """The requests since the last call (method, path, params, code, status)."""
        text = self.requests_file.read_text(encoding="utf-8") if self.requests_file.exists() else ""
        self.requests_file.unlink(missing_ok=True)
        return [json.loads(line) for line in text.splitlines()]


@contextmanager
def running(folder: Path, account: dict[str, Any]) -> Iterator[Venue]:
    """The stand-in serving ``account`` from ``folder``, until the block ends."""
    venue = Venue(folder)
    venue.write(account)
    process = subprocess.Popen(
        [sys.executable, str(FAKE), str(venue.account_file), str(venue.requests_file)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    venue.url = process.stdout.readline().strip()
    assert venue.url.startswith("http://127.0.0.1:"), venue.url
    try:
        yield venue
    finally:
        process.terminate()
        process.wait(timeout=10)


def recon_fetch(
    venue: Venue,
    out: Path,
    *options: str,
    name: str = "binance",
    env: dict[str, str] | None = None,
) -> Result:
    """``stratops recon fetch --venue NAME --out OUT --api-host … -o json OPTIONS…``."""
    return CliRunner().invoke(
        app,
        ["recon", "fetch", "--venue", name, "--out", str(out), "--api-host", venue.url,
         "-o", "json", *options],
        env=credentials(name) if env is None else env,
    )  # fmt: skip


def taker_fills(
    ms: Sequence[int],
    symbol: str,
    sides: Sequence[str],
    prices: Sequence[str],
    quantities: Sequence[str],
    trade_ids: Sequence[int],
    fee: Decimal,
    first_order: int,
) -> pd.DataFrame:
    """Trades as the desk's taker fills, one order each from ``first_order`` (the ledger's
    frame, :mod:`stratops.ops.reconciliation.frames`), a ``fee`` of the cost in the quote, with
    the venue's trade ``id`` and the price and quantity as the venue's text."""
    price = [Decimal(p) for p in prices]
    qty = [Decimal(q) for q in quantities]
    return pd.DataFrame(
        {
            "ts": np.asarray(ms, dtype=np.int64) * 1_000_000,
            "symbol": symbol,
            "side": list(sides),
            "quantity": [float(q) for q in qty],
            "price": [float(p) for p in price],
            "fee": [float(p * q * fee) for p, q in zip(price, qty, strict=True)],
            "fee_asset": symbol.partition("/")[2].partition(":")[0],
            "order_key": first_order + np.arange(len(qty), dtype=np.int64),
            "trade_key": NO_KEY,
            "activity": TRADE,
            "id": list(trade_ids),
            "price_text": list(prices),
            "qty_text": list(quantities),
        }
    )
