"""Market data: normalised schema, loaders for the real files, and repair with a typed report.

Schema (every timestamp is UTC nanoseconds since the epoch, ``int64`` in frames and
``timestamp[ns, tz=UTC]`` in Parquet):

- bars: ``ts`` (bar open time), ``symbol``, ``open``, ``high``, ``low``, ``close``, ``volume``
  (base quantity), ``synthetic`` (True for a bar inserted by repair to fill a gap);
- quotes: ``ts``, ``symbol``, ``bid``, ``ask``, ``bid_size``, ``ask_size``;
- trades: ``ts``, ``symbol``, ``price``, ``qty``, ``side`` (aggressor: buy or sell),
  ``exchange_ts`` (the venue's own time of the trade).
"""
