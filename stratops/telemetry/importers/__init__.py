"""Importers of the desk's real fills and market data into the telemetry schema.

Each module is a pure parse, from the lines of one file to the schema's tables
(:mod:`stratops.telemetry.schema`), raising
:class:`~stratops.model.problems.InvalidDocumentError` with the file, line, field and what was
expected for every bad row:

- :mod:`.ccxt`: ccxt's unified trade structure, one JSON object a line (``fetchMyTrades``
  exports) → ``fills``;
- :mod:`.tardis`: tardis.dev ``trades`` or ``quotes`` CSV → ``trades`` or ``quotes``;
- :mod:`.binance_ws`: Binance websocket captures, ``<local ns timestamp> <json>`` a line, with
  ``trade`` and ``bookTicker`` streams → ``trades`` and ``quotes``.

:func:`stratops.telemetry.writer.import_file` reads a file, parses it and writes the tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum

import pyarrow as pa

from stratops.telemetry.importers import binance_ws, ccxt, tardis


class ImportFormat(StrEnum):
    """The formats ``stratops analytics import`` reads."""

    CCXT = "ccxt"
    TARDIS = "tardis"
    BINANCE_WS = "binance-ws"


Parser = Callable[[str, Iterable[str]], dict[str, pa.Table]]

PARSERS: dict[ImportFormat, Parser] = {
    ImportFormat.CCXT: ccxt.parse,
    ImportFormat.TARDIS: tardis.parse,
    ImportFormat.BINANCE_WS: binance_ws.parse,
}
