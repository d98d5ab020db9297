"""Every sandbox double by system name, and one call that mounts them all on the main app.

    from connectors.sandboxes import mount_sandboxes
    mount_sandboxes(app, SandboxStore(session_factory), settings=SandboxSettings(...))

mounts each double at `/sandbox/<system>` (the default base_url of every connector config).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import FastAPI

from connectors.avito.sandbox import create_sandbox_app as avito_app
from connectors.cdek.sandbox import create_sandbox_app as cdek_app
from connectors.moysklad.sandbox import create_sandbox_app as moysklad_app
from connectors.nova_poshta.sandbox import create_sandbox_app as nova_poshta_app
from connectors.russian_post.sandbox import create_sandbox_app as russian_post_app
from connectors.sandbox_kit import SandboxSettings
from connectors.sandbox_store import SandboxStore
from connectors.sms.sandbox import create_sandbox_app as sms_app
from connectors.telegram.sandbox import create_sandbox_app as telegram_app
from connectors.whatsapp.sandbox import create_sandbox_app as whatsapp_app
from connectors.yookassa.sandbox import create_sandbox_app as yookassa_app
from connectors.zzap.sandbox import create_sandbox_app as zzap_app

SandboxFactory = Callable[[SandboxStore, SandboxSettings | None], FastAPI]

SANDBOXES: dict[str, SandboxFactory] = {
    "moysklad": moysklad_app,
    "yookassa": yookassa_app,
    "cdek": cdek_app,
    "russian_post": russian_post_app,
    "nova_poshta": nova_poshta_app,
    "sms": sms_app,
    "telegram": telegram_app,
    "whatsapp": whatsapp_app,
    "avito": avito_app,
    "zzap": zzap_app,
}


def mount_sandboxes(
    app: FastAPI,
    store: SandboxStore,
    *,
    settings: SandboxSettings | None = None,
    per_system: Mapping[str, SandboxSettings] | None = None,
    prefix: str = "/sandbox",
) -> None:
    """Mount every double at `<prefix>/<system>`; `per_system` overrides `settings` by name."""
    for system, factory in SANDBOXES.items():
        chosen = (per_system or {}).get(system, settings)
        app.mount(f"{prefix}/{system}", factory(store, chosen))
