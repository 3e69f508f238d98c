"""Content hash per contract over its canonical header and items.

Independent of row order (items are combined with XOR, keys are unique) and of
number formatting (values are scaled integers before they get here).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contract_sync.columns import (
    CODE_COLUMNS,
    CONTRACT_COLUMNS,
    CONTRACT_KEY,
    ITEM_COLUMNS,
    REJECTED,
    run_starts,
    text_in_arrow,
)

# The exact text of the keys is left out: a padded database and a trimmed export hash alike.
# Rejected values are mixed into a row's hash only where there are some (_with_rejected):
# a row whose every value was taken hashes as it did before the column existed.
HASHED_CONTRACT_COLUMNS = [c for c in CONTRACT_COLUMNS if c not in [*CODE_COLUMNS, REJECTED]]
HASHED_ITEM_COLUMNS = [c for c in ITEM_COLUMNS if c not in [*CODE_COLUMNS, REJECTED]]
HASHED_COLUMNS = (HASHED_CONTRACT_COLUMNS, HASHED_ITEM_COLUMNS)


# Rows hashed a slice at a time: the same hashes, at two thirds of the time of a 100,000-row
# group at once (pandas factorizes each text column first, and small tables stay in cache).
HASH_SLICE_ROWS = 20_000


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    slices = [
        pd.util.hash_pandas_object(frame.iloc[start : start + HASH_SLICE_ROWS], index=False)
        for start in range(0, len(frame), HASH_SLICE_ROWS)
    ]
    return np.concatenate([np.empty(0, dtype=np.uint64), *(s.to_numpy(np.uint64) for s in slices)])


def _with_rejected(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Row hashes over `columns`, the rows' rejected values mixed in where a row has some
    (and `columns` leave them out): a value the connector could not take, missing in its
    field, then differs from a value missing in the ERP."""
    hashes = _row_hashes(frame[columns])
    if REJECTED not in frame or REJECTED in columns:
        return hashes
    rejected = frame[REJECTED]
    present = rejected.notna().to_numpy()
    if not present.any():
        return hashes
    mixed = hashes.copy()
    mixed[present] ^= _row_hashes(rejected[present].to_frame())
    return mixed


def _contract_of_items(contracts: pd.DataFrame, items: pd.DataFrame) -> np.ndarray:
    """Per item, the row of its contract in `contracts` (-1 for none). One company with
    unique numbers (every run reads one) is matched on the number alone: a third of the
    cost of matching on both key columns."""
    numbers = pd.Index(contracts["contract_no"])
    companies = np.concatenate(
        [contracts["erp_company"].to_numpy(), items["erp_company"].to_numpy()]
    )
    one_company = len(companies) > 0 and bool((companies == companies[0]).all())
    if one_company and numbers.is_unique and not numbers.hasnans:
        if not text_in_arrow(items["contract_no"]):
            return numbers.get_indexer(items["contract_no"])
        # Each distinct number looked up once (Arrow's dictionary_encode): a third of the
        # time of get_indexer over a piece's items, which name a hundred contracts or so.
        codes, distinct = pd.factorize(items["contract_no"])  # -1 for a missing number
        return np.append(numbers.get_indexer(distinct), -1)[codes]
    return pd.MultiIndex.from_frame(contracts[CONTRACT_KEY]).get_indexer(
        pd.MultiIndex.from_frame(items[CONTRACT_KEY])
    )


def contract_hashes(
    contracts: pd.DataFrame,
    items: pd.DataFrame,
    columns: tuple[list[str], list[str]] = HASHED_COLUMNS,
) -> pd.Series:
    """Hex digest per contract, aligned with `contracts`' rows, over `columns` (of the
    header, of the items)."""
    return _hashed(contracts, items, columns)[0]


def header_hashes(contracts: pd.DataFrame) -> pd.Series:
    """Per contract, the hash of its header (labelled as `contracts`' rows): made once for
    a whole read and taken piece by piece (hashes_and_counts), where hashing a piece's
    hundred headers costs about as much as hashing them all."""
    hashed = _with_rejected(contracts, HASHED_CONTRACT_COLUMNS)
    return pd.Series(hashed, index=contracts.index, dtype="uint64")


def hashes_and_counts(
    contracts: pd.DataFrame, items: pd.DataFrame, headers: pd.Series | None = None
) -> tuple[pd.Series, pd.Series]:
    """contract_hashes, and contract_no -> its number of items (0 for none; items of no
    contract in `contracts` are not counted): one lookup of the items' contracts for both.
    `headers`: header_hashes of contracts that take in these (made here when None)."""
    hashes, codes = _hashed(contracts, items, HASHED_COLUMNS, headers)
    counts = np.bincount(codes[codes >= 0], minlength=len(contracts)).astype("int64")
    return hashes, pd.Series(counts, index=contracts["contract_no"].to_numpy(), dtype="int64")


def _hashed(
    contracts: pd.DataFrame,
    items: pd.DataFrame,
    columns: tuple[list[str], list[str]],
    headers: pd.Series | None = None,
) -> tuple[pd.Series, np.ndarray]:
    """The digests, and per item the row of its contract (see _contract_of_items)."""
    contract_columns, item_columns = columns
    item_hashes = pd.Series(_with_rejected(items, item_columns), dtype="uint64")
    codes = _contract_of_items(contracts, items)
    combined = np.zeros(len(contracts), dtype=np.uint64)
    if len(items):
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        starts = run_starts(sorted_codes)
        xored = np.bitwise_xor.reduceat(item_hashes.to_numpy()[order], starts)
        known = sorted_codes[starts] >= 0
        combined[sorted_codes[starts][known]] = xored[known]
    if headers is None:
        header = _with_rejected(contracts, contract_columns)
    else:
        header = headers.loc[contracts.index].to_numpy()
    digest = _row_hashes(pd.DataFrame({"header": header, "items": combined}))
    hashes = pd.Series(np.char.mod("%016x", digest), index=contracts.index, dtype="string")
    return hashes, codes
