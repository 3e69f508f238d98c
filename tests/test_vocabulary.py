"""One vocabulary: no module spells a code of contract_sync.vocabulary as a string of its
own, it names the member (a StrEnum member is the same text, stored and compared alike).

A code literal is a string constant whose whole value is the value of a member of one of
the CODES enums, wherever it stands: compared, matched (in, isin, eq), a dict key or value,
a default, an assignment, an argument, a return value; in any of these places it is as much
a code. Docstrings and the literal text of f-strings are not code. What keeps the rule
quiet is the whole value (codes are short identifiers: no sentence or message holds one
whole), the choice of enums (none whose values also name other things, see LEFT_OUT), and
OTHER_MEANINGS, the few literals that spell a code's text with a meaning of their own.
"""

from __future__ import annotations

import ast
from collections import Counter
from enum import StrEnum
from typing import NamedTuple

from contract_sync import vocabulary
from contract_sync.vocabulary import (
    ConflictPolicy,
    ContractStatus,
    DirectoryAction,
    ErpStatus,
    ItemChange,
    Outcome,
    PermissionLevel,
    Reason,
    RunStatus,
    Tool,
    Trigger,
    WebEvent,
)
from tests.sources import modules

# Files another change is rewriting, and how many code literals each still holds:

CODES = [
    Outcome,
    Reason,
    ConflictPolicy,
    ItemChange,
    DirectoryAction,
    PermissionLevel,
    RunStatus,
    WebEvent,
    Trigger,
    ContractStatus,
    ErpStatus,
]
# The vocabulary's enums the rule leaves out, and why.
LEFT_OUT = {
    Tool: "its values are also the names of two store tables and two keys of the directory "
    "file, spelled as such",
}
# Literals that spell a member's value with another meaning: (file, literal) -> (how many
# times, what they mean there).
OTHER_MEANINGS = {
    ("contract_sync/stages/ready.py", "imported"): (
        2,
        "the ready list's column: whether the contract is in the store",
    ),
    ("faces/web/views.py", "imported"): (2, "the same column, read for a page"),
    ("contract_sync/reports/run_summary.py", "imported"): (1, "the same column, for an artifact"),
    ("faces/web/views.py", "pending"): (1, "a ready row's pending changes, not an ERP status"),
    ("faces/web/auth.py", "cli"): (
        1,
        "the client of a web event from the command line (an address otherwise), not a trigger",
    ),
    ("contract_sync/demo/seed.py", "admin"): (1, "the demo's login admin, not its level"),
    ("contract_sync/erp/vista_schema.py", "none"): (1, "Vista's bill type N, not a level"),
    ("contract_sync/reports/audit.py", "none"): (1, "the word a report shows for no runs"),
    ("faces/cli.py", "undo"): (1, "the command's name, not the trigger of the runs it records"),
    ("faces/web/words.py", "undo"): (1, "the word a person reads for an undo"),
    ("contract_sync/store/migrations/versions/0005_audit_chain.py", "running"): (
        1,
        "a migration keeps the values of its revision, not today's vocabulary",
    ),
}
VOCABULARY = "contract_sync/vocabulary.py"


class Literal(NamedTuple):
    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text!r} -> use {' or '.join(_MEMBERS[self.text])}"


def _members(enums: list[type[StrEnum]]) -> dict[str, list[str]]:
    """Each code, and the members that spell it."""
    found: dict[str, list[str]] = {}
    for enum in enums:
        for member in enum:
            found.setdefault(member.value, []).append(f"{enum.__name__}.{member.name}")
    return found


_MEMBERS = _members(CODES)


def _not_code(tree: ast.Module) -> set[int]:
    """The ids of the string constants that are no code: docstrings (any string standing as
    a statement) and the literal text of f-strings."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            skipped.add(id(node.value))
        elif isinstance(node, ast.JoinedStr):
            skipped |= {id(v) for v in node.values if isinstance(v, ast.Constant)}
    return skipped


def code_literals(path: str, tree: ast.Module) -> list[Literal]:
    skipped = _not_code(tree)
    return sorted(
        Literal(path, node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in _MEMBERS
        and id(node) not in skipped
    )


def _without_other_meanings(found: list[Literal]) -> tuple[list[Literal], list[str]]:
    """The literals left once those of OTHER_MEANINGS are set aside, and every entry of it
    that does not hold as many as it says."""
    counted = Counter((f.path, f.text) for f in found)
    wrong = [
        f"{path}: {text!r} {counted[path, text]} times, OTHER_MEANINGS says {times}"
        for (path, text), (times, _why) in OTHER_MEANINGS.items()
        if counted[path, text] != times
    ]
    return [f for f in found if (f.path, f.text) not in OTHER_MEANINGS], wrong


def test_every_enum_of_the_vocabulary_is_checked_or_left_out_for_a_reason():
    enums = {
        v
        for v in vars(vocabulary).values()
        if isinstance(v, type) and issubclass(v, StrEnum) and v is not StrEnum
    }
    assert enums == set(CODES) | set(LEFT_OUT)


def test_no_module_spells_a_code():
    """Every module of the core, the faces, the flows and the tasks, vocabulary.py aside."""
    found = [
        literal
        for path, tree in modules().items()
        if path != VOCABULARY
        for literal in code_literals(path, tree)
    ]
    found, wrong = _without_other_meanings(found)
    offenders = wrong + [str(f) for f in found]
    assert not offenders, "\n".join(offenders)


SAMPLE = '''\
"""Returns blocked."""
def f(outcome="blocked", policy=ConflictPolicy.block):
    """failed"""
    if outcome == "up_to_date" or outcome in ("kept", "other"):
        return {"reimported": 1, "key": "no_updates"}
    log(f"blocked {outcome}", "blocked for a reason", outcome)
    return frame["change"].eq("added")
'''


def test_what_counts_as_a_code_literal():
    found = [str(f) for f in code_literals("sample.py", ast.parse(SAMPLE))]
    assert found == [
        "sample.py:2: 'blocked' -> use Outcome.blocked",
        "sample.py:4: 'kept' -> use ItemChange.kept",
        "sample.py:4: 'up_to_date' -> use Outcome.up_to_date",
        "sample.py:5: 'no_updates' -> use Reason.no_updates",
        "sample.py:5: 'reimported' -> use Outcome.reimported",
        "sample.py:7: 'added' -> use ItemChange.added or DirectoryAction.added",
    ]
