"""Build the package's ``stratops/data/market/`` from the shared market data, trimmed and small.

Run once (the result is committed): ``python -m stratops.paper.marketdata.prepare SHARED OUT``
with ``SHARED`` the shared ``data/`` folder. Candle files are copied byte for byte; the
websocket capture keeps its ``trade`` and ``bookTicker`` lines of a four-minute window
(:data:`CAPTURE_WINDOW`); the tardis CSVs keep their first four minutes, gzip-compressed.
"""

from __future__ import annotations

import gzip
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

CANDLES = (
    "binance-spot-1m/BTC_USDT-1m.feather",
    "binance-spot-1m/ETH_USDT-1m.feather",
    "binance-spot-1h/BTC_USDT-1h.feather",
)
CAPTURE_FILES = {
    "btcusdt": ("spot_btcusdt_20240808.gz", "spot_btcusdt_20240809.gz"),
    "ethusdt": ("spot_ethusdt_20240808.gz", "spot_ethusdt_20240809.gz"),
}
CAPTURE_WINDOW = ("2024-08-08T23:58:00Z", "2024-08-09T00:02:00Z")
TARDIS_MINUTES = 4


def _ns(text: str) -> int:
    return int(pd.Timestamp(text).value)


def trim_capture(sources: list[Path], target: Path, start_ns: int, end_ns: int) -> int:
    """Copy the ``trade`` and ``bookTicker`` lines received in ``[start_ns, end_ns)``.

    Parameters
    ----------
    sources
        Capture files in time order.
    target
        The ``.gz`` file to write.
    start_ns, end_ns
        Local receive-time window.

    Returns
    -------
    int
        Lines written.
    """
    written = 0
    with gzip.GzipFile(target, "wb", mtime=0) as out:
        for source in sources:
            with gzip.open(source, "rt", encoding="utf-8") as handle:
                for line in handle:
                    stamp, _, payload = line.partition(" ")
                    if not stamp.isdigit() or not start_ns <= int(stamp) < end_ns:
                        continue
                    if '@trade"' in payload or '@bookTicker"' in payload:
                        out.write(line.encode("utf-8"))
                        written += 1
    return written


def trim_tardis(source: Path, target: Path, minutes: int) -> int:
    """Keep the rows of a tardis CSV in its first ``minutes`` (by ``timestamp``), gzipped."""
    frame = pd.read_csv(source)
    stamps = frame["timestamp"].to_numpy(dtype=np.int64)
    kept = frame.loc[stamps < stamps.min() + minutes * 60_000_000]
    with gzip.GzipFile(target, "wb", mtime=0) as out:
        out.write(kept.to_csv(index=False).encode("ascii"))
    return len(kept)


def prepare(shared: Path, out: Path) -> dict[str, int]:
    """Write every fixture of ``stratops/data/market/`` and return the rows or lines of each."""
    written: dict[str, int] = {}
    for name in CANDLES:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared / name, out / name)
        written[name] = len(pd.read_feather(out / name))
    capture = out / "binance-ws-capture"
    capture.mkdir(parents=True, exist_ok=True)
    start, end = (_ns(t) for t in CAPTURE_WINDOW)
    for pair, files in CAPTURE_FILES.items():
        name = f"spot_{pair}_20240808T2358_4m.gz"
        sources = [shared / "binance-ws-capture" / f for f in files]
        written[f"binance-ws-capture/{name}"] = trim_capture(sources, capture / name, start, end)
    tardis = out / "tardis-binance-futures"
    tardis.mkdir(parents=True, exist_ok=True)
    for kind in ("quotes", "trades"):
        name = f"{kind}_4m.csv.gz"
        source = shared / "tardis-binance-futures" / f"{kind}.csv"
        written[f"tardis-binance-futures/{name}"] = trim_tardis(
            source, tardis / name, TARDIS_MINUTES
        )
    return written


if __name__ == "__main__":
    for path, count in prepare(Path(sys.argv[1]), Path(sys.argv[2])).items():
        print(f"{path}: {count}")
