"""Operations as code: reconciliation of the ledger with the venue (:mod:`.reconciliation`)."""
