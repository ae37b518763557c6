"""A stand-in for Binance's spot and USDⓈ-M futures REST APIs, for the ccxt statement fetch.

    python fake_binance.py ACCOUNT.json REQUESTS.jsonl

prints its base URL (``http://127.0.0.1:PORT``) on the first line of stdout, then serves until
it is terminated. Binance cannot run here; this answers only what ``stratops recon fetch``
asks (through ccxt's ``binance`` class), from the account in ACCOUNT.json — read again at every
request, so a test can change the account between fetches:

``{"apiKey", "secret", "symbols": [{"symbol", "baseAsset", "quoteAsset"}], "trades": [...],
"orders": [...], "balances": [{"asset", "free", "locked"}], "updateTime", "futures": {...}}``,
trades and orders in Binance's own response shapes (``GET /api/v3/myTrades``,
``GET /api/v3/allOrders``). The optional ``futures`` account (ccxt's ``binanceusdm``) is
``{"symbols": [{"symbol", "baseAsset", "quoteAsset"}], "trades", "orders", "positions",
"income"}`` in the shapes of ``GET /fapi/v1/userTrades``, ``/fapi/v1/allOrders``,
``/fapi/v3/positionRisk`` and ``/fapi/v1/income``; its symbols are perpetuals.

Each request is checked the way Binance checks it (developers.binance.com, spot REST API):
the path and method; for the signed endpoints the ``X-MBX-APIKEY`` header (-2015), a
``timestamp``, a ``recvWindow`` of at most 60000, the HMAC-SHA256 ``signature`` of the query
before it (-1022); the parameters each endpoint takes, with their types (-1100, -1101, -1104),
``symbol`` a listed one (-1121), ``limit`` at most 1000, a time window of at most 24 hours for
spot trades and orders and 7 days for futures trades and orders (-1127; a futures query with
only ``startTime`` gets the 7 days from it, as Binance answers); unknown paths are 404 (and the
futures paths without a futures account). Every request is appended to REQUESTS.jsonl (method,
path, parameters, the error code given or 0).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

SIGNED = {
    "/api/v3/myTrades": {"symbol", "orderId", "startTime", "endTime", "fromId", "limit"},
    "/api/v3/allOrders": {"symbol", "orderId", "startTime", "endTime", "limit"},
    "/api/v3/order": {"symbol", "orderId", "origClientOrderId"},
    "/api/v3/account": {"omitZeroBalances"},
    "/sapi/v1/margin/allPairs": {"symbol"},
    "/sapi/v1/margin/isolated/allPairs": {"symbol"},
}
FUTURES = {
    "/fapi/v1/userTrades": {"symbol", "orderId", "startTime", "endTime", "fromId", "limit"},
    "/fapi/v1/allOrders": {"symbol", "orderId", "startTime", "endTime", "limit"},
    "/fapi/v1/order": {"symbol", "orderId", "origClientOrderId"},
    "/fapi/v3/positionRisk": {"symbol"},
    "/fapi/v1/leverageBracket": {"symbol"},
    "/fapi/v1/income": {"symbol", "incomeType", "startTime", "endTime", "page", "limit"},
}
INCOME_TYPES = {"TRANSFER", "WELCOME_BONUS", "REALIZED_PNL", "FUNDING_FEE", "COMMISSION",
                "INSURANCE_CLEAR", "REFERRAL_KICKBACK", "COMMISSION_REBATE"}  # fmt: skip
NO_MARGIN = {"/sapi/v1/margin/allPairs", "/sapi/v1/margin/isolated/allPairs"}
PUBLIC = {"/api/v3/exchangeInfo", "/fapi/v1/exchangeInfo", "/dapi/v1/exchangeInfo"}
INTEGERS = {"orderId", "startTime", "endTime", "fromId", "limit", "timestamp", "recvWindow",
            "page"}  # fmt: skip
DAY_MS = 24 * 3600 * 1000
WEEK_MS = 7 * DAY_MS


class Refused(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def _market(entry: dict[str, str]) -> dict[str, Any]:
    """An exchangeInfo symbol, with BTCUSDT's filters as Binance publishes them."""
    return {
        **entry,
        "status": "TRADING",
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": True,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.01000000",
                "maxPrice": "1000000.00000000",
                "tickSize": "0.01000000",
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": "0.00001000",
                "maxQty": "9000.00000000",
                "stepSize": "0.00001000",
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": "5.00000000",
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT", "MARGIN"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def _params(query: str, allowed: set[str]) -> dict[str, str]:
    pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    params = dict(pairs)
    if len(params) != len(pairs):
        raise Refused(400, -1101, "Duplicate values for a parameter detected.")
    unknown = sorted(set(params) - allowed - {"timestamp", "recvWindow", "signature"})
    if unknown:
        raise Refused(400, -1104, f"Not all sent parameters were read; unread: {unknown}.")
    for name in INTEGERS & set(params):
        if not params[name].lstrip("-").isdigit():
            raise Refused(400, -1100, f"Illegal characters found in parameter '{name}'.")
    return params


def _check_signed(query: str, headers: Any, account: dict[str, Any]) -> None:
    if headers.get("X-MBX-APIKEY") != account["apiKey"]:
        raise Refused(401, -2015, "Invalid API-key, IP, or permissions for action.")
    signed, _, signature = query.rpartition("&signature=")
    if not signed or "signature=" in signed:
        raise Refused(400, -1102, "Mandatory parameter 'signature' was not sent.")
    expected = hmac.new(account["secret"].encode(), signed.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature, expected):
        raise Refused(400, -1022, "Signature for this request is not valid.")


def _window(
    params: dict[str, str],
    rows: list[dict[str, Any]],
    key: str,
    span: int = DAY_MS,
    *,
    from_start: bool = False,
) -> list[dict[str, Any]]:
    """The rows of the asked window, at most ``span`` ms long; ``from_start``: the span from
    ``startTime`` when no ``endTime`` is sent."""
    start = int(params.get("startTime", 0))
    end = int(params["endTime"]) if "endTime" in params else None
    if end is None and from_start and "startTime" in params:
        end = start + span
    if end is not None and end - start > span and "startTime" in params:
        raise Refused(
            400, -1127, f"More than {span // 3_600_000} hours between startTime and endTime."
        )
    limit = int(params.get("limit", 500))
    if not 1 <= limit <= 1000:
        raise Refused(400, -1100, "Illegal characters found in parameter 'limit'.")
    kept = [r for r in rows if r[key] >= start and (end is None or r[key] <= end)]
    return kept[:limit]


def _contract(entry: dict[str, str]) -> dict[str, Any]:
    """A /fapi/v1/exchangeInfo perpetual, with BTCUSDT's filters as Binance publishes them."""
    return {
        **entry,
        "pair": entry["symbol"],
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "marginAsset": entry["quoteAsset"],
        "pricePrecision": 2,
        "quantityPrecision": 3,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": ["PoW"],
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "556.80",
                "maxPrice": "4529764",
                "tickSize": "0.10",
            },
            {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000", "stepSize": "0.001"},
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": "0.001",
                "maxQty": "120",
                "stepSize": "0.001",
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": "100"},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": [
            "LIMIT",
            "MARKET",
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }


def _futures(path: str, params: dict[str, str], futures: dict[str, Any]) -> Any:
    """The answer of a signed /fapi path of the futures account ``futures``."""
    listed = {m["symbol"] for m in futures["symbols"]}
    if "symbol" in params and params["symbol"] not in listed:
        raise Refused(400, -1121, "Invalid symbol.")
    if path == "/fapi/v1/leverageBracket":
        brackets = [{"bracket": 1, "initialLeverage": 125, "notionalCap": 50000,
                     "notionalFloor": 0, "maintMarginRatio": 0.004, "cum": 0.0}]  # fmt: skip
        return [{"symbol": s, "brackets": brackets} for s in sorted(listed)]
    if path == "/fapi/v3/positionRisk":
        return [p for p in futures["positions"] if params.get("symbol", p["symbol"]) == p["symbol"]]
    if path == "/fapi/v1/income":
        if params.get("incomeType", "FUNDING_FEE") not in INCOME_TYPES:
            raise Refused(400, -1130, "Data sent for parameter 'incomeType' is not valid.")
        if int(params.get("limit", 100)) > 1000:
            raise Refused(400, -1130, "Data sent for parameter 'limit' is not valid.")
        rows = [r for r in futures["income"]
                if params.get("symbol", r["symbol"]) == r["symbol"]
                and params.get("incomeType", r["incomeType"]) == r["incomeType"]]  # fmt: skip
        return _window({"limit": "100", **params}, sorted(rows, key=lambda r: r["time"]), "time",
                       span=200 * DAY_MS)  # fmt: skip
    if "symbol" not in params:
        raise Refused(400, -1102, "Mandatory parameter 'symbol' was not sent.")
    return _history(path, params, futures, futures=True)


def _history(path: str, params: dict[str, str], tables: dict[str, Any], *, futures: bool) -> Any:
    """The trades, the orders or the one order (``…/order``) of ``params``' symbol; a week at
    most for the futures endpoints, which answer the week from ``startTime`` without an
    ``endTime``, a day for the spot ones."""
    table = "trades" if path.endswith(("/myTrades", "/userTrades")) else "orders"
    mine = [r for r in tables[table] if r["symbol"] == params["symbol"]]
    if path.endswith("/order"):
        if "orderId" not in params:
            raise Refused(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent.")
        found = [r for r in mine if r["orderId"] == int(params["orderId"])]
        if not found:
            raise Refused(400, -2013, "Order does not exist.")
        return found[0]
    if "orderId" in params:
        mine = [r for r in mine if r["orderId"] >= int(params["orderId"])]
    order = "id" if table == "trades" else "orderId"
    span = WEEK_MS if futures else DAY_MS
    return _window(params, sorted(mine, key=lambda r: r[order]), "time", span, from_start=futures)


def answer(path: str, query: str, headers: Any, account: dict[str, Any]) -> Any:
    markets = {m["symbol"] for m in account["symbols"]}
    futures = account.get("futures")
    if path in PUBLIC:
        _params(query, set())
        if path == "/api/v3/exchangeInfo":
            listed = [_market(m) for m in account["symbols"]]
        elif path == "/fapi/v1/exchangeInfo" and futures is not None:
            listed = [_contract(m) for m in futures["symbols"]]
        else:
            listed = []
        return {"timezone": "UTC", "serverTime": account["updateTime"], "rateLimits": [],
                "exchangeFilters": [], "symbols": listed}  # fmt: skip
    endpoints = {**SIGNED, **(FUTURES if futures is not None else {})}
    if path not in endpoints:
        raise Refused(404, 0, "Not Found")
    params = _params(query, endpoints[path])
    _check_signed(query, headers, account)
    if "timestamp" not in params:
        raise Refused(400, -1102, "Mandatory parameter 'timestamp' was not sent.")
    if int(params.get("recvWindow", 5000)) > 60000:
        raise Refused(400, -1131, "recvWindow must be less than 60000")
    if path in FUTURES:
        return _futures(path, params, futures)
    if path in NO_MARGIN:  # ccxt lists margin pairs with the markets: this account has none
        return []
    if path == "/api/v3/account":
        return {"makerCommission": 10, "takerCommission": 10, "canTrade": True,
                "canWithdraw": False, "canDeposit": True, "updateTime": account["updateTime"],
                "accountType": "SPOT", "balances": account["balances"],
                "permissions": ["SPOT"]}  # fmt: skip
    if params.get("symbol") not in markets:
        raise Refused(400, -1121, "Invalid symbol.")
    return _history(path, params, account, futures=False)


def main(account_file: Path, requests_file: Path) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            account = json.loads(account_file.read_text(encoding="utf-8"))
            try:
                status, body, code = 200, answer(parts.path, parts.query, self.headers, account), 0
            except Refused as refused:
                status, code = refused.status, refused.code
                body = {"code": refused.code, "msg": str(refused)}
            params = dict(parse_qsl(parts.query))
            params.pop("signature", None)
            with requests_file.open("a", encoding="utf-8") as log:
                log.write(json.dumps({"method": "GET", "path": parts.path, "params": params,
                                      "code": code, "status": status}) + "\n")  # fmt: skip
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
