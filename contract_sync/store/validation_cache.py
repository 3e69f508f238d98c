"""Validation verdicts kept per contract, so that a contract whose content has not changed
since it was last validated under the same suites is not validated again: importing Great
Expectations alone costs about 2 s, which a command answering in seconds cannot pay.

One row per ERP contract (so the file never grows past the number of contracts): the key
of the rules it was checked against, the key of its content, its failures as JSON, and
the run that validated it. A SQLite file beside the embedded databases. A cache that
cannot be read or written is skipped with a warning: it never fails or changes a run.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    erp_company INTEGER NOT NULL,
    contract_no TEXT NOT NULL,
    rules TEXT NOT NULL,
    content TEXT NOT NULL,
    failures TEXT NOT NULL,
    validated_by TEXT,
    PRIMARY KEY (erp_company, contract_no)
)
"""
KEY = ["erp_company", "contract_no", "content"]


class ValidationCache:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30)
        connection.execute(SCHEMA)
        return connection

    def lookup(self, rules: str, keys: pd.DataFrame) -> pd.Series:
        """Per row of `keys` (erp_company, contract_no, content): the failures recorded for
        exactly that content under `rules` (a list, empty when it passed), or None."""
        misses = pd.Series([None] * len(keys), index=keys.index, dtype=object)
        try:
            with self._connect() as connection:
                known = pd.read_sql_query(
                    "SELECT erp_company, contract_no, content, failures FROM verdicts "
                    "WHERE rules = ?",
                    connection,
                    params=(rules,),
                )
        except (sqlite3.Error, OSError) as error:
            log.warning(
                "validation cache %s not read (%s): validating everything", self.path, error
            )
            return misses
        if known.empty:
            return misses
        known = known.astype({"erp_company": "int64", "contract_no": "string"})
        found = keys[KEY].merge(known, on=KEY, how="left")["failures"]
        return pd.Series(
            [None if pd.isna(text) else json.loads(text) for text in found],
            index=keys.index,
            dtype=object,
        )

    def save(self, rules: str, verdicts: pd.DataFrame, run_id: str | None) -> None:
        """Keep `verdicts` (erp_company, contract_no, content, failures: list) under `rules`."""
        rows = zip(
            verdicts["erp_company"].astype(int).tolist(),
            verdicts["contract_no"].astype(str).tolist(),
            [rules] * len(verdicts),
            verdicts["content"].astype(str).tolist(),
            verdicts["failures"].map(json.dumps).tolist(),
            [run_id] * len(verdicts),
            strict=True,
        )
        try:
            with self._connect() as connection:
                connection.executemany(
                    "INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?, ?)", rows
                )
        except (sqlite3.Error, OSError) as error:
            log.warning("validation cache %s not written (%s)", self.path, error)
