"""SQLite reads through ADBC in a process of its own, their rows streamed to the parent as
Arrow IPC on stdout, one stream per read in turn: `python -m contract_sync.arrow_child` with
a JSON request on stdin ({"uri", "reads": [{"sql", "check"}, ...], "batch_rows"}). The
reads are made in one transaction: one snapshot of the database.

Why a process: the ADBC SQLite driver carries its own copy of SQLite. Two copies in one
process break each other's POSIX locks on the same file (closing one's descriptor drops the
other's locks: sqlite.org/howtocorrupt.html, 2.2.1), and the run holds the same databases
open through Python's sqlite3. Exit status NOT_READ (nothing written) when the database
cannot be opened or holds a value of another type than its column's (a read's `check`
query finds one): the parent then reads through SQLAlchemy. Any other status than 0 is a read
that did not end well (a stream cut between two batches looks whole to Arrow's reader).
"""

from __future__ import annotations

import json
import sys

NOT_READ = 3


def main() -> int:
    # The driver's low-level API: its DB-API module imports pandas, a second more per read.
    import adbc_driver_manager as manager
    import adbc_driver_sqlite
    import pyarrow as pa

    request = json.load(sys.stdin)
    try:
        database = adbc_driver_sqlite.connect(request["uri"])
        connection = manager.AdbcConnection(database)
        connection.set_autocommit(False)  # the checks and the reads see one snapshot
    except manager.Error:
        return NOT_READ
    batch_rows = int(request["batch_rows"])
    try:
        for read in request["reads"]:
            if read["check"] and _rows(manager, pa, connection, read["check"], 1).num_rows:
                return NOT_READ
        reader = _reader(manager, pa, connection, request["reads"][0]["sql"], batch_rows)
    except (manager.Error, OSError):
        return NOT_READ
    for number, read in enumerate(request["reads"]):
        if number:  # an error now is a read that stopped: status 1, as any exception
            reader = _reader(manager, pa, connection, read["sql"], batch_rows)
        with pa.ipc.new_stream(sys.stdout.buffer, reader.schema) as stream:
            for batch in reader:
                stream.write_batch(batch)
    return 0


def _reader(manager, pa, connection, sql: str, batch_rows: int):  # noqa: ANN001, ANN202
    statement = manager.AdbcStatement(connection)
    statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
    statement.set_sql_query(sql)
    stream, _ = statement.execute_query()
    return pa.RecordBatchReader._import_from_c(stream.address)


def _rows(manager, pa, connection, sql: str, batch_rows: int):  # noqa: ANN001, ANN202
    return _reader(manager, pa, connection, sql, batch_rows).read_all()


if __name__ == "__main__":
    sys.exit(main())
