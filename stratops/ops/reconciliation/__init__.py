"""Reconciliation of a deployment's ledger (its telemetry) with the venue's statement.

The core is pure, over pandas frames: :mod:`.frames` (the columns both sides use),
:mod:`.matching` (fills: keys first, then tolerances), :mod:`.drift` (positions, balances,
funding, orders), :mod:`.breaks` (the break table) and :mod:`.lifecycle` (settling, ageing,
clearing between runs). The adapters read the two sides (:mod:`.ledger`, :mod:`.statement`)
and store and publish the result (:mod:`.store`, :mod:`.run`).
"""
