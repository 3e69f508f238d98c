"""The directory file's entries as pydantic models: what each key may hold.

An entry states what its company, project or user should be, in the fields it gives: a
field it leaves out stays as the store holds it (a new entry needs its name, which the plan
checks against the store), and a collection inside an entry (a project's jobs, a user's
permissions) is partial. Nothing is removed unless the file says so: `remove: true` on an
entry (which then holds only its key), `remove_jobs:` on a project, `remove` in place of a
permission level.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from contract_sync.columns import normal_text
from contract_sync.vocabulary import ERP_TYPES, PERMISSION_LEVELS

REMOVE = "remove"  # in place of a permission level: delete the permission
ALL_PROJECTS = "*"  # a main_contracts key: every project of the company, later ones too


def _known_level(value: str) -> str:
    if value != REMOVE and value not in PERMISSION_LEVELS:
        levels = ", ".join(PERMISSION_LEVELS)
        raise ValueError(
            f"unknown permission level {value!r}: the levels are {levels} "
            f"(or {REMOVE}, to delete the permission)"
        )
    return value


def _known_erp(value: str) -> str:
    if value not in ERP_TYPES:
        raise ValueError(f"unknown ERP type {value!r}: the known types are {', '.join(ERP_TYPES)}")
    return value


def _plain_login(value: str) -> str:
    """A login is printable ASCII without spaces (letters, digits, punctuation): what a
    person types at sign-in, so no look-alike of another login can be given rights."""
    for position, character in enumerate(value, start=1):
        if not "!" <= character <= "~":
            raise ValueError(
                f"login {value!r} is refused: {_named(character)} at position {position}; a "
                "login is printable ASCII without spaces (letters, digits and punctuation)"
            )
    return value


def _named(character: str) -> str:
    """A character as a person can tell it from the one it looks like."""
    if character == " ":
        return "a space"
    name = unicodedata.name(character, "a control character")
    return f"U+{ord(character):04X} ({name})"


def _text(max_length: int) -> type[str]:
    return Annotated[str, StringConstraints(min_length=1, max_length=max_length)]


Login = Annotated[_text(80), AfterValidator(_plain_login)]
Name = _text(120)
ProjectNumber = _text(40)  # also "*" as a main_contracts key
# Job codes in their normal form (surrounding spaces trimmed), as every match is made on it:
# '  1001-001' as Vista writes it and '1001-001' as a person types it are one job.
JobCode = Annotated[_text(20), AfterValidator(normal_text)]
Level = Annotated[str, AfterValidator(_known_level)]


def _address(value: str) -> str:
    local, at, domain = value.partition("@")
    if not (local and at and "." in domain.strip(".")) or any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not an email address (name@example.com)")
    return value


Email = Annotated[_text(254), AfterValidator(_address)]
ErpType = Annotated[str, AfterValidator(_known_erp)]


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    KEY: ClassVar[str] = ""  # the field that names the entry
    KIND: ClassVar[str] = ""
    remove: bool = False

    def _complete(self) -> Entry:
        given = self.model_fields_set - {self.KEY, "remove"}
        if self.remove and given:
            raise ValueError(
                f"an entry with remove: true holds only its {self.KEY}; "
                f"drop {', '.join(sorted(given))}"
            )
        return self


class ProjectEntry(Entry):
    KEY: ClassVar[str] = "number"
    KIND: ClassVar[str] = "project"
    number: ProjectNumber
    name: Name | None = None  # required for a project the store does not hold yet
    jobs: list[JobCode] = Field(default_factory=list)  # ERP job codes, in any padding
    remove_jobs: list[JobCode] = Field(default_factory=list)  # links to delete

    @model_validator(mode="after")
    def _check(self) -> ProjectEntry:
        return self._complete()


class UserEntry(Entry):
    KEY: ClassVar[str] = "login"
    KIND: ClassVar[str] = "user"
    login: Login
    name: Name | None = None  # required for a login the store does not hold yet
    email: Email | None = None  # where the daily digest reaches them; kept when left out
    erp_integrations: Level | None = None  # the company-level tool
    main_contracts: dict[ProjectNumber, Level] = Field(default_factory=dict)  # project or "*"

    @model_validator(mode="after")
    def _check(self) -> UserEntry:
        return self._complete()


class CompanyEntry(Entry):
    KEY: ClassVar[str] = "erp_company"
    KIND: ClassVar[str] = "company"
    erp_company: int
    name: Name | None = None  # required for a company the store does not hold yet
    erp: ErpType | None = None  # a key of the ERP capability matrix; with the next, for a new one
    integration_configured: bool | None = None
    projects: list[ProjectEntry] = Field(default_factory=list)
    users: list[UserEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> CompanyEntry:
        return self._complete()


class Directory(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    companies: list[CompanyEntry] = Field(default_factory=list)


# The model of an entry list's items, by the key that holds the list (for messages).
ENTRY_LISTS: dict[str, type[Entry]] = {
    "companies": CompanyEntry,
    "projects": ProjectEntry,
    "users": UserEntry,
}
