"""The daily digest, sent: each person who can act gets one email of what is new for them,
each webhook (Slack, Teams, any JSON receiver) one message of all of it, through apprise.
A notice is recorded as told once every message that carries it went out; one that did
not, or that had nobody to go to, is told again the next day."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from contract_sync.errors import UserError
from contract_sync.settings import Settings
from contract_sync.stages.digest import Message, contract_notices, messages, recipients, run_notices
from contract_sync.store import identity
from contract_sync.store import notices as store
from contract_sync.store.db import open_store


class NoChannel(UserError, ValueError):
    """Nowhere to send a digest: no email server and no webhook is set."""


@dataclass(frozen=True)
class Digest:
    messages: list[Message]  # one per person
    webhook: Message | None  # the whole digest, for each webhook
    told: list[str]  # the notices recorded as told (none in a dry run)
    failed: list[str]  # where a message did not go (to whom, or which webhook)


def daily_digest(settings: Settings, dry_run: bool = False) -> Digest:
    """What is new to tell, sent and recorded as told (`dry_run`: made, not sent)."""
    if not dry_run and not (settings.notify_email or settings.notify_webhook_list):
        raise NoChannel(
            "no channel for the digest: set CONTRACT_SYNC_NOTIFY_EMAIL (an SMTP server, as an "
            "apprise mailto:// URL) or CONTRACT_SYNC_NOTIFY_WEBHOOKS (apprise URLs)"
        )
    engine = open_store(settings)
    try:
        known = store.told(engine)
        base = settings.web_base_url
        contracts = contract_notices(
            store.contract_states(engine, settings.service_user), known, base
        )
        runs = run_notices(store.ended_runs(engine), known, base)
        addressed = pd.concat(
            [
                recipients(contracts, store.admins(engine)),
                pd.DataFrame(
                    [(k, e) for k in runs["key"] for e in settings.notify_operator_list],
                    columns=["key", "email"],
                ),
            ],
            ignore_index=True,
        )
        notices = pd.concat([contracts.drop(columns="project_id"), runs], ignore_index=True)
        names = identity.company_names(engine)
        personal = messages(notices, addressed, names)
        whole = _whole(notices, names)
        if dry_run or notices.empty:
            return Digest(personal, whole, [], [])
        personal = personal if settings.notify_email else []
        failed, unsent = _send(settings, personal, whole)
        reached = {k for m in personal for k in m.keys}
        if settings.notify_webhook_list:
            reached |= set(notices["key"])
        # Told: what went out everywhere it was sent, and reached someone (a notice for
        # nobody, say no admin has an address yet, waits for one).
        told = [k for k in notices["key"] if k in reached and k not in unsent]
        store.record_told(engine, told, addressed.groupby("key").size().to_dict())
        return Digest(personal, whole, told, failed)
    finally:
        engine.dispose()


def _whole(notices: pd.DataFrame, names: dict[int, str]) -> Message | None:
    if notices.empty:
        return None
    [message] = messages(notices, notices[["key"]].assign(email="the webhooks"), names)
    return message


def _send(
    settings: Settings, personal: list[Message], whole: Message | None
) -> tuple[list[str], set[str]]:
    """Each message sent; where one failed, and the notices it carried."""
    import apprise

    failed, unsent = [], set()
    for message in personal:
        if not _notify(apprise, [_addressed(settings.notify_email, message.to)], message):
            failed.append(message.to)
            unsent |= set(message.keys)
    for url in settings.notify_webhook_list:
        if whole is not None and not _notify(apprise, [url], whole):
            failed.append(url.split("://")[0] + " webhook")
            unsent |= set(whole.keys)
    return failed, unsent


def _notify(apprise, urls: list[str], message: Message) -> bool:  # noqa: ANN001 - the module
    sender = apprise.Apprise()
    for url in urls:
        if not sender.add(url):
            scheme = url.split("://")[0]
            raise NoChannel(f"not a notification URL apprise knows: {scheme}://... (see its docs)")
    text = apprise.NotifyFormat.TEXT
    return bool(sender.notify(title=message.subject, body=message.body, body_format=text))


def _addressed(server: str, to: str) -> str:
    """The SMTP server's apprise URL, to this address."""
    return f"{server}{'&' if '?' in server else '?'}to={to}"
