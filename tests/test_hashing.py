"""contract_hashes: one content hash per contract, independent of row order."""

from __future__ import annotations

import json

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from contract_sync import hashing
from contract_sync.columns import REJECTED
from contract_sync.hashing import contract_hashes, hashes_and_counts
from tests.frames import contracts_frame, items_frame

CONTRACTS = contracts_frame("C1", "C2", "C3")
ITEMS = items_frame(("C1", "10"), ("C1", "20"), ("C1", "30"), ("C2", "10"), ("C2", "20")).assign(
    uom="LS"  # as when the digests of test_digests_are_those_stored_by_earlier_versions were
)


def by_contract(contracts: pd.DataFrame, items: pd.DataFrame) -> dict[str, str]:
    hashes = contract_hashes(contracts, items)
    assert hashes.index.equals(contracts.index)
    return dict(zip(contracts["contract_no"], hashes, strict=True))


def test_hashes_are_hex_digests_distinct_per_contract():
    hashes = by_contract(CONTRACTS, ITEMS)
    assert all(len(h) == 16 and int(h, 16) >= 0 for h in hashes.values())
    assert len(set(hashes.values())) == 3


def test_item_order_does_not_matter():
    shuffled = ITEMS.sample(frac=1, random_state=3).reset_index(drop=True)
    reversed_ = ITEMS.iloc[::-1]
    assert by_contract(CONTRACTS, shuffled) == by_contract(CONTRACTS, ITEMS)
    assert by_contract(CONTRACTS, reversed_) == by_contract(CONTRACTS, ITEMS)


def test_contract_order_does_not_matter_and_hashes_align_with_their_rows():
    reordered = CONTRACTS.iloc[[2, 0, 1]]
    assert by_contract(reordered, ITEMS) == by_contract(CONTRACTS, ITEMS)
    assert by_contract(reordered.reset_index(drop=True), ITEMS) == by_contract(CONTRACTS, ITEMS)


def test_one_cent_in_one_item_changes_only_that_contracts_hash():
    before = by_contract(CONTRACTS, ITEMS)
    changed = ITEMS.copy()
    row = (changed["contract_no"] == "C1") & (changed["item_no"] == "20")
    changed.loc[row, "amount"] += 1
    after = by_contract(CONTRACTS, changed)
    assert after["C1"] != before["C1"]
    assert after["C2"] == before["C2"]
    assert after["C3"] == before["C3"]


def test_header_change_changes_the_hash():
    before = by_contract(CONTRACTS, ITEMS)
    retitled = CONTRACTS.copy()
    retitled.loc[retitled["contract_no"] == "C2", "title"] = "Contract C2, revised"
    after = by_contract(retitled, ITEMS)
    assert after["C2"] != before["C2"]
    assert {after["C1"], after["C3"]} == {before["C1"], before["C3"]}


def test_moving_an_item_to_another_contract_changes_both_hashes():
    before = by_contract(CONTRACTS, ITEMS)
    moved = ITEMS.copy()
    moved.loc[(moved["contract_no"] == "C2") & (moved["item_no"] == "20"), "contract_no"] = "C3"
    after = by_contract(CONTRACTS, moved)
    assert after["C2"] != before["C2"]
    assert after["C3"] != before["C3"]
    assert after["C1"] == before["C1"]


def test_swapping_amounts_between_two_items_changes_the_hash():
    before = by_contract(CONTRACTS, ITEMS)
    swapped = ITEMS.copy()
    first = (swapped["contract_no"] == "C1") & (swapped["item_no"] == "10")
    second = (swapped["contract_no"] == "C1") & (swapped["item_no"] == "20")
    swapped.loc[first, "amount"] = 100
    swapped.loc[second, "amount"] = 200
    reference = by_contract(CONTRACTS, swapped)
    swapped.loc[first, "amount"] = 200
    swapped.loc[second, "amount"] = 100
    assert by_contract(CONTRACTS, swapped)["C1"] != reference["C1"]
    assert reference["C1"] != before["C1"]


def test_contract_without_items_gets_a_hash():
    hashes = contract_hashes(CONTRACTS, ITEMS)
    c3 = hashes[CONTRACTS["contract_no"] == "C3"].iloc[0]
    assert isinstance(c3, str) and len(c3) == 16
    no_items = contract_hashes(CONTRACTS, ITEMS.iloc[0:0])
    assert no_items.notna().all()
    assert no_items.nunique() == 3
    # C3 has no items either way, so its hash does not depend on the other contracts' items.
    assert no_items[CONTRACTS["contract_no"] == "C3"].iloc[0] == c3


def test_items_of_unknown_contracts_are_ignored():
    orphans = items_frame(("C9", "10"), ("C0", "10"))
    with_orphans = pd.concat([orphans, ITEMS, orphans.assign(item_no="99")], ignore_index=True)
    assert by_contract(CONTRACTS, with_orphans) == by_contract(CONTRACTS, ITEMS)
    assert by_contract(CONTRACTS, orphans) == by_contract(CONTRACTS, ITEMS.iloc[0:0])


def test_digests_are_those_stored_by_earlier_versions():
    """A stored digest that changed would make every contract look edited after an upgrade."""
    assert by_contract(CONTRACTS, ITEMS) == {
        "C1": "9f5954d37fc70130",
        "C2": "f61ea8ec141231b9",
        "C3": "e4f84453045b142a",
    }


def test_a_rejected_value_differs_from_a_missing_one():
    """A value the connector rejected is missing in its field, and said in REJECTED: the
    contract's content differs from the same value missing in the ERP (and from another
    rejected value), while a row without one hashes as it did before the column existed."""
    blank = ITEMS.assign(amount=ITEMS["amount"].mask(ITEMS.index == 0))
    said = {"amount": "items.csv, column OrigContractAmt: '1.234' has more than 2 decimals"}
    rejected = blank.assign(**{REJECTED: [json.dumps(said), *[None] * (len(ITEMS) - 1)]})
    other = rejected.assign(**{REJECTED: rejected[REJECTED].str.replace("1.234", "1.235")})
    digests = [by_contract(CONTRACTS, items) for items in (blank, rejected, other)]
    assert len({d["C1"] for d in digests}) == 3
    assert len({d["C2"] for d in digests}) == 1
    assert by_contract(CONTRACTS, ITEMS.drop(columns=REJECTED)) == by_contract(CONTRACTS, ITEMS)


def test_rows_hashed_a_slice_at_a_time_give_the_same_digests(monkeypatch):
    whole = by_contract(CONTRACTS, ITEMS)
    for rows in (1, 2, 4):
        monkeypatch.setattr(hashing, "HASH_SLICE_ROWS", rows)
        assert by_contract(CONTRACTS, ITEMS) == whole


@given(sizes=st.lists(st.integers(0, 6), max_size=8), orphans=st.integers(0, 3))
def test_counts_are_each_contracts_items_beside_the_same_hashes(sizes, orphans):
    numbers = [f"C{n}" for n in range(len(sizes))]
    rows = [(no, str(10 * k)) for no, size in zip(numbers, sizes, strict=True) for k in range(size)]
    rows += [("C9", str(10 * k)) for k in range(orphans)]  # items of no contract read
    contracts = contracts_frame(*numbers)
    items = items_frame(*rows)

    hashes, counts = hashes_and_counts(contracts, items)

    assert hashes.equals(contract_hashes(contracts, items))
    assert counts.to_dict() == dict(zip(numbers, sizes, strict=True))
    assert counts.dtype == "int64"


@given(sizes=st.lists(st.integers(0, 4), min_size=1, max_size=8), data=st.data())
def test_a_piece_hashed_with_its_read_s_header_hashes_gives_the_same_digests(sizes, data):
    """The scan hashes the headers of a whole read once (header_hashes) and each piece's
    items apart: the digests and counts of a piece are the ones it gives alone."""
    numbers = [f"C{n}" for n in range(len(sizes))]
    every = contracts_frame(*numbers).assign(title=[f"T{n}" for n in range(len(sizes))])
    every.index = every.index * 3 + 7  # labels of a read, not positions
    taken = data.draw(st.lists(st.sampled_from(numbers), unique=True))
    piece = every[every["contract_no"].isin(taken)]
    rows = [(no, str(10 * k)) for no, size in zip(numbers, sizes, strict=True) for k in range(size)]
    items = items_frame(*[row for row in rows if row[0] in taken])

    with_headers = hashes_and_counts(piece, items, headers=hashing.header_hashes(every))

    alone = hashes_and_counts(piece, items)
    assert with_headers[0].equals(alone[0]) and with_headers[1].equals(alone[1])
