"""A Vista job-cost database written by hand in the formats real ones have (see
../shared/FIELD-NOTES.md), not by the demo generator: mask-padded contract and job codes,
right-justified item numbers that skip, lump sums with zero units and price, deducts,
5-decimal unit prices whose extension rounds to the cent, 60-character non-ASCII text,
retainage as a fraction."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from contract_sync.erp.vista_schema import JCCI, JCCM, JCJM, metadata

CENT = Decimal("0.01")


def item_code(number: int) -> str:
    return str(number).rjust(16)  # bContractItem: right-justified in 16 characters


def unit_item(number: int, text: str, um: str, units: str, price: str, **extra) -> dict:
    amount = (Decimal(units) * Decimal(price)).quantize(CENT, rounding=ROUND_HALF_UP)
    return {
        "Item": item_code(number),
        "Description": text,
        "UM": um,
        "OrigContractUnits": Decimal(units),
        "OrigUnitPrice": Decimal(price),
        "OrigContractAmt": amount,
        **extra,
    }


def lump_sum(number: int, text: str, amount: str, **extra) -> dict:
    return {
        "Item": item_code(number),
        "Description": text,
        "UM": "LS",
        "OrigContractUnits": Decimal("0"),
        "OrigUnitPrice": Decimal("0"),
        "OrigContractAmt": Decimal(amount),
        **extra,
    }


RIVERSIDE = [
    lump_sum(1, "Général conditions – mobilisation, cautionnement & assurance", "125000.00",
             SICode="01-100", BillType="P"),
    unit_item(2, "Béton coulé en place – fondations, niveau sous-sol (phase 1)", "CY",
              "412.500", "187.12345", SICode="03-300", BillType="P"),
    lump_sum(10, "Deduct: owner-furnished plumbing fixtures (credit to owner)", "-8500.00",
             BillType="N"),
    unit_item(11, "Électricité – distribution 480 V, bâtiment B, étage 2", "EA",
              "3.000", "12345.67891", SICode="26-100", BillType="B"),
    unit_item(20, "Maçonnerie d’unités de béton – niveau 2, façade nord-est", "SF",
              "2210.000", "18.75004", BillType="T"),
]  # fmt: skip


def harbor_items(count: int) -> list[dict]:
    """A long schedule of values: items numbered in steps of 5, sitework to finishes."""
    units = ["SF", "LF", "SY", "CY", "EA", "TON", "HR"]
    return [
        unit_item(
            5 * n,
            f"Travaux n° {n:04d} – secteur {n % 7 + 1}, révision {n % 3}"[:60],
            units[n % len(units)],
            f"{(n * 37) % 900 + 1}.{n % 1000:03d}",
            f"{(n * 13) % 400 + 2}.{(n * 7919) % 100000:05d}",
            SICode=f"{(n % 48) + 1:02d}-{n % 900:03d}",
            BillType="P",
        )
        for n in range(1, count + 1)
    ]


CONTRACTS = [
    # (company, contract, job, description, status, customer, items)
    (1, " 1001-", "  1001-001", "Riverside Medical Office", 1, "RIVERSIDE HEALTH", RIVERSIDE),
    (1, " 1002-", "  1002-001", "Harbor Logistics Center", 1, "PORT AUTH", harbor_items(300)),
    (1, " 1003-", "  1003-001", "Elm Street Fire Station", 0, "CITY OF ELM", RIVERSIDE[:2]),
    (2, " 2001-", "  2001-001", "Cedar Ridge Elementary", 1, "CEDAR ISD", RIVERSIDE[2:]),
]


def build(engine: sa.Engine) -> None:
    """The Vista tables with the contracts above (header totals equal their items)."""
    metadata.create_all(engine)
    with engine.begin() as connection:
        for company, contract, job, title, status, customer, items in CONTRACTS:
            connection.execute(
                JCJM.insert(),
                {"JCCo": company, "Job": job, "Description": title, "Contract": contract,
                 "JobStatus": 1},
            )  # fmt: skip
            connection.execute(
                JCCM.insert(),
                {
                    "JCCo": company,
                    "Contract": contract,
                    "Description": title,
                    "ContractStatus": status,
                    "Customer": customer,
                    "StartMonth": dt.date(2025, 3, 1),
                    "ProjCloseDate": dt.date(2026, 8, 31),
                    "RetainagePCT": Decimal("0.1000"),
                    "OrigContractAmt": sum(i["OrigContractAmt"] for i in items),
                },
            )
            connection.execute(
                JCCI.insert(),
                [
                    {"JCCo": company, "Contract": contract, "TaxCode": "E",
                     "RetainPCT": Decimal("0.1000"), "SICode": None, "BillType": "P", **item}
                    for item in items
                ],
            )  # fmt: skip


DIRECTORY = """\
companies:
  - erp_company: 1
    name: Example Builders
    erp: viewpoint_vista
    integration_configured: true
    projects:
      - number: "1001-001"
        name: Riverside Medical Office
        jobs: ["  1001-001"]        # as Vista writes it
      - number: "1002-001"
        name: Harbor Logistics Center
        jobs: ["1002-001"]          # as a person types it
      - number: "1003-001"
        name: Elm Street Fire Station
        jobs: ["1003-001"]
    users:
      - login: sync-service
        name: Scheduled sync
        erp_integrations: admin
        main_contracts: {"*": admin}
      - login: jdoe
        name: Jane Doe
        erp_integrations: admin
        main_contracts: {"*": admin}
      - login: estimator
        name: Sam Estimator
        erp_integrations: standard
        main_contracts: {"1001-001": admin, "*": read_only}
  - erp_company: 2
    name: Example Builders West
    erp: viewpoint_vista
    integration_configured: true
    projects:
      - number: "2001-001"
        name: Cedar Ridge Elementary
        jobs: ["  2001-001"]
    users:
      - login: sync-service
        name: Scheduled sync
        erp_integrations: admin
        main_contracts: {"*": admin}
"""
