"""The Viewpoint Vista job-cost tables the connector reads (the columns it needs)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

JCJM = sa.Table(
    "JCJM",
    metadata,
    sa.Column("JCCo", sa.SmallInteger, primary_key=True),
    sa.Column("Job", sa.String(10), primary_key=True),
    sa.Column("Description", sa.String(60)),
    sa.Column("Contract", sa.String(10)),
    sa.Column("JobStatus", sa.SmallInteger),
)

JCCM = sa.Table(
    "JCCM",
    metadata,
    sa.Column("JCCo", sa.SmallInteger, primary_key=True),
    sa.Column("Contract", sa.String(10), primary_key=True),
    sa.Column("Description", sa.String(60)),
    sa.Column("ContractStatus", sa.SmallInteger),
    sa.Column("Customer", sa.String(30)),
    sa.Column("StartMonth", sa.Date),
    sa.Column("ProjCloseDate", sa.Date),
    sa.Column("RetainagePCT", sa.Numeric(6, 4)),
    sa.Column("OrigContractAmt", sa.Numeric(12, 2)),
)

JCCI = sa.Table(
    "JCCI",
    metadata,
    sa.Column("JCCo", sa.SmallInteger, primary_key=True),
    sa.Column("Contract", sa.String(10), primary_key=True),
    sa.Column("Item", sa.String(16), primary_key=True),
    sa.Column("Description", sa.String(60)),
    sa.Column("SICode", sa.String(16)),
    sa.Column("UM", sa.String(3)),
    sa.Column("TaxCode", sa.String(10)),
    sa.Column("RetainPCT", sa.Numeric(6, 4)),
    # Vista's datatypes: bDollar numeric(12,2), bUnits numeric(12,3), bUnitCost numeric(16,5).
    sa.Column("OrigContractAmt", sa.Numeric(12, 2)),
    sa.Column("OrigContractUnits", sa.Numeric(12, 3)),
    sa.Column("OrigUnitPrice", sa.Numeric(16, 5)),
    sa.Column("BillType", sa.String(1)),
)

BILL_TYPES = {"P": "progress", "T": "time_and_material", "B": "both", "N": "none"}
