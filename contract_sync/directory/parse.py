"""Read a directory file: YAML with the line of every key and item kept, validated by the
models, checked across entries. Every problem names the file, the line and the entry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from contract_sync.columns import normal_text
from contract_sync.directory.model import ENTRY_LISTS, REMOVE, Directory
from contract_sync.errors import UserError

Location = tuple[Any, ...]  # keys and list indexes from the document's root
MAX_PROBLEMS = 50
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DirectoryError(UserError, ValueError):
    """A directory file that cannot be applied; one line per problem, each naming the file,
    the line and the entry."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        super().__init__("\n".join(shown + ([f"... and {more} more"] if more else [])))


@dataclass(frozen=True)
class Source:
    """The file as read: its name, its plain data and the line of each location."""

    name: str
    data: Any
    lines: dict[Location, int]

    def line(self, location: Location) -> int:
        location = tuple(location)
        while location and location not in self.lines:
            location = location[:-1]
        return self.lines.get(location, 1)

    def entry(self, location: Location) -> str:
        """The entry a location is in, as people name it: company 1 / user jdoe / ..."""
        parts: list[str] = []
        node = self.data
        steps = [step for step in location if step != "[key]"]
        i = 0
        while i < len(steps):
            key = steps[i]
            child = _get(node, key)
            following = steps[i + 1] if i + 1 < len(steps) else None
            if key in ENTRY_LISTS and isinstance(following, int):
                item = _get(child, following)
                parts.append(_entry_name(ENTRY_LISTS[key], item, following))
                node, i = item, i + 2
                continue
            if following is not None and key in ("jobs", "remove_jobs", "main_contracts"):
                value = following if key == "main_contracts" else _get(child, following)
                shown = _key_text(value) if isinstance(value, str | int) else f"#{following + 1}"
                parts.append(f"{key} {shown}")
                break
            parts.append(str(key))
            node, i = child, i + 1
        return " / ".join(parts)

    def problem(self, location: Location, message: str, line: int | None = None) -> str:
        entry = self.entry(location)
        line = line or self.line(location)
        return f"{self.name}:{line}: {entry + ': ' if entry else ''}{message}"

    def problems(self, found: list[tuple]) -> list[str]:
        """Messages of (location, message[, line]) tuples, in the order of their lines."""
        ordered = sorted(found, key=lambda f: f[2] if len(f) > 2 and f[2] else self.line(f[0]))
        return [self.problem(*f) for f in ordered]


@dataclass(frozen=True)
class ParsedDirectory:
    model: Directory
    source: Source


def parse_file(path: Path | str) -> ParsedDirectory:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DirectoryError([f"{path}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise DirectoryError([f"{path}: cannot be read: {error}"]) from None
    return parse_text(text, str(path))


def parse_text(text: str, name: str = "<directory>") -> ParsedDirectory:
    """The validated directory of a YAML text; `name` is the file named in messages."""
    try:
        root = yaml.compose(text, Loader=Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        context = ""
        if error.context and error.context_mark and error.context_mark.line + 1 != line:
            context = f" ({error.context} started on line {error.context_mark.line + 1})"
        raise DirectoryError([f"{name}:{line}: not valid YAML: {error.problem}{context}"]) from None
    except yaml.YAMLError as error:
        raise DirectoryError([f"{name}: not valid YAML: {error}"]) from None
    reader = _Reader()
    data = reader.plain(root, ()) if root is not None else None
    source = Source(name, data, reader.lines)
    problems = source.problems(reader.found)
    if not isinstance(data, dict):
        problems.append(f"{name}:1: expected a mapping with a `companies:` list")
        raise DirectoryError(problems)
    try:
        model = Directory.model_validate(data)
    except ValidationError as error:
        problems += source.problems(
            [(e["loc"], _message(e)) for e in error.errors(include_url=False)]
        )
        raise DirectoryError(problems) from None
    problems += source.problems(_cross_check(model))
    if problems:
        raise DirectoryError(problems)
    return ParsedDirectory(model, source)


class _Reader:
    """Plain Python values of a node tree, with the line of every key and list item."""

    def __init__(self) -> None:
        self.constructor = yaml.constructor.SafeConstructor()
        self.lines: dict[Location, int] = {(): 1}
        self.found: list[tuple[Location, str, int | None]] = []
        self.open_nodes: set[int] = set()

    def plain(self, node: yaml.Node, location: Location) -> Any:
        if id(node) in self.open_nodes:
            self.found.append((location, "a value may not contain itself (recursive alias)", None))
            return None
        if isinstance(node, yaml.MappingNode):
            self.open_nodes.add(id(node))
            result = self._mapping(node, location)
            self.open_nodes.discard(id(node))
            return result
        if isinstance(node, yaml.SequenceNode):
            self.open_nodes.add(id(node))
            items = []
            for index, item in enumerate(node.value):
                self.lines[(*location, index)] = item.start_mark.line + 1
                items.append(self.plain(item, (*location, index)))
            self.open_nodes.discard(id(node))
            return items
        return self._scalar(node, location)

    def _mapping(self, node: yaml.MappingNode, location: Location) -> dict:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self._scalar(key_node, location)
            line = key_node.start_mark.line + 1
            if isinstance(key, bool) or not isinstance(key, str | int | float):
                self.found.append((location, f"a key must be text, not {key!r}", line))
                continue
            if key in result:
                first = self.lines[(*location, key)]
                self.found.append(
                    ((*location, key), f"{key!r} is given twice (first on line {first})", line)
                )
                continue
            self.lines[(*location, key)] = line
            result[key] = self.plain(value_node, (*location, key))
        return result

    def _scalar(self, node: yaml.Node, location: Location) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return _Unhashable()
        try:
            return self.constructor.construct_object(node)
        except yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or error
            self.found.append((location, f"cannot read this value: {problem}", None))
            return None


class _Unhashable:
    def __repr__(self) -> str:
        return "a list or mapping"


def _get(node: Any, key: Any) -> Any:
    if isinstance(node, dict):
        return node.get(key)
    if isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
        return node[key]
    return None


def _entry_name(model: type, item: Any, index: int) -> str:
    value = item.get(model.KEY) if isinstance(item, dict) else None
    if isinstance(value, str | int) and not isinstance(value, bool):
        return f"{model.KIND} {_key_text(value)}"
    return f"{model.KIND} #{index + 1}"


def _key_text(value: str | int) -> str:
    """A key as written, or quoted when spaces around it or characters in it would not show
    (a line break, a tab, a zero-width space)."""
    text = str(value)
    return text if text.isprintable() and text == text.strip() else repr(text)


def _message(error: dict) -> str:
    """A pydantic error as a sentence about the file."""
    kind, location, given = error["type"], error["loc"], error.get("input")
    field = location[-1] if location else ""
    if kind == "extra_forbidden":
        model = _model_at(location[:-1])
        fields = list(model.model_fields)
        known = ", ".join(sorted(fields, key=lambda k: k == "remove"))  # remove last
        return f"unknown key {field!r}; the keys here are {known}"
    if kind == "missing":
        return f"{field} is required"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "string_type":
        if isinstance(given, int | float) and not isinstance(given, bool):
            return f'expected text, got the number {given!r}: write it in quotes ("{given}")'
        return f"expected text, got {_shown(given)}"
    return f"{error['msg'][0].lower()}{error['msg'][1:]}, got {_shown(given)}"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _model_at(location: Location) -> type:
    """The model of the entry at a location (the root's when it is in no entry list)."""
    for i in range(len(location) - 1, 0, -1):
        if location[i - 1] in ENTRY_LISTS and isinstance(location[i], int):
            return ENTRY_LISTS[location[i - 1]]
    return Directory


def _cross_check(model: Directory) -> list[tuple[Location, str]]:
    """What no single entry shows: twice-given entries, a job linked to two projects, a
    permission on a project the same file removes, one login with two names."""
    found: list[tuple[Location, str]] = []
    companies: dict[int, int] = {}
    user_names: dict[str, tuple[str, int]] = {}
    for c, company in enumerate(model.companies):
        at = ("companies", c)
        if company.erp_company in companies:
            found.append((at, f"company {company.erp_company} is given twice"))
        companies[company.erp_company] = c
        numbers: dict[str, int] = {}
        jobs: dict[str, str] = {}
        removed: set[str] = set()
        for p, project in enumerate(company.projects):
            project_at = (*at, "projects", p)
            if project.number in numbers:
                found.append((project_at, f"project {project.number} is given twice"))
            numbers[project.number] = p
            if project.remove:
                removed.add(project.number)
            for j, job in enumerate(project.jobs):
                code = normal_text(job)  # jobs are matched on their normal form, padding aside
                if code in jobs:
                    where = "twice" if jobs[code] == project.number else "to two projects"
                    found.append(
                        (
                            (*project_at, "jobs", j),
                            f"job {job!r} is linked {where}: {jobs[code]} and {project.number}",
                        )
                    )
                jobs.setdefault(code, project.number)
            for j, job in enumerate(project.remove_jobs):
                if job in project.jobs:
                    found.append(
                        ((*project_at, "remove_jobs", j), f"job {job} is both linked and removed")
                    )
        logins: set[str] = set()
        for u, user in enumerate(company.users):
            user_at = (*at, "users", u)
            if user.login in logins:
                found.append((user_at, f"user {user.login} is given twice in this company"))
            logins.add(user.login)
            if user.name is not None:
                first = user_names.setdefault(user.login, (user.name, c))
                if first[0] != user.name:
                    found.append(
                        (
                            (*user_at, "name"),
                            f"user {user.login} is named {first[0]!r} in company "
                            f"{model.companies[first[1]].erp_company} and {user.name!r} here",
                        )
                    )
            for key, level in user.main_contracts.items():
                if key in removed and level != REMOVE:
                    found.append(
                        (
                            (*user_at, "main_contracts", key),
                            f"project {key} is removed by this file",
                        )
                    )
    return found
