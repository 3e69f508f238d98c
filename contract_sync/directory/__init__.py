"""The company directory as a file: companies, their ERP integration, projects, the ERP jobs
synced to them, users and their permissions, set up from YAML and exported to it.

One module per job: `model` (what a file may hold), `parse` (file -> validated model, every
problem naming the file, the line and the entry), `plan` (pure diff of the model against
the store's rows), `apply` (the plan in one transaction, with the append-only change log)
and `export` (the store -> the same format).
"""

from contract_sync.directory.apply import apply_file, apply_parsed, apply_plan, default_actor
from contract_sync.directory.export import document_text, export_document, export_text
from contract_sync.directory.model import ALL_PROJECTS, REMOVE, Directory
from contract_sync.directory.parse import DirectoryError, ParsedDirectory, parse_file, parse_text
from contract_sync.directory.plan import Change, Plan, Snapshot, make_plan, read_snapshot

__all__ = [
    "ALL_PROJECTS",
    "REMOVE",
    "Change",
    "Directory",
    "DirectoryError",
    "ParsedDirectory",
    "Plan",
    "Snapshot",
    "apply_file",
    "apply_parsed",
    "apply_plan",
    "default_actor",
    "document_text",
    "export_document",
    "export_text",
    "make_plan",
    "parse_file",
    "parse_text",
    "read_snapshot",
]
