"""The `potok` command line: database, users, tokens, the web server (and, later, processes).

Sub-commands are grouped in sub-typers (`db`, `user`, `token`); more commands attach to `app`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from sqlalchemy.orm import Session, sessionmaker

from engine.settings import get_settings

app = typer.Typer(help="potok — BPMN orchestrator for online shops", no_args_is_help=True)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
user_app = typer.Typer(help="Users", no_args_is_help=True)
token_app = typer.Typer(help="Long-lived API tokens for integrations", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")


def session_factory() -> sessionmaker[Session]:
    """The session factory of the configured database (for commands that touch data)."""
    from engine.db import get_engine, make_session_factory

    return make_session_factory(get_engine(get_settings().database_url))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply the database migrations up to REVISION."""
    from engine.migrate import upgrade

    upgrade(get_settings().database_url, revision)
    typer.echo(f"database upgraded to {revision}")


@user_app.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="Login name")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    group: Annotated[list[str] | None, typer.Option("--group", "-g", help="Repeatable")] = None,
    role: Annotated[list[str] | None, typer.Option("--role", "-r", help="Repeatable")] = None,
    display_name: Annotated[str, typer.Option(help="Shown in the UI")] = "",
) -> None:
    """Create a user with an argon2-hashed password, groups and roles."""
    from api.auth.service import create_user
    from engine.db import session_scope
    from engine.errors import PotokError

    try:
        with session_scope(session_factory()) as session:
            create_user(
                session,
                username=name,
                password=password,
                roles=role or [],
                groups=group or [],
                display_name=display_name,
            )
    except PotokError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"user {name} created")


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option("--user", "-u", help="Whose token it is")],
    scope: Annotated[list[str], typer.Option("--scope", "-s", help="Repeatable, e.g. tasks")],
    name: Annotated[str, typer.Option(help="What the token is for")] = "integration",
    days: Annotated[int | None, typer.Option(help="Expire after N days (default: never)")] = None,
) -> None:
    """Create an integration token and print it once (only its hash is stored)."""
    from api.auth.service import get_user_or_raise, issue_token
    from engine.db import session_scope
    from engine.errors import PotokError

    try:
        with session_scope(session_factory()) as session:
            owner = get_user_or_raise(session, username=user)
            ttl = timedelta(days=days) if days is not None else None
            issued = issue_token(session, user=owner, scopes=scope, ttl=ttl, name=name)
    except PotokError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(issued.token)


@app.command("serve")
def serve(
    workers: Annotated[int, typer.Option(help="Web worker processes")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes")] = False,
    embedded: Annotated[
        bool, typer.Option(help="Also run a Celery worker and beat (timers) in this process")
    ] = False,
) -> None:
    """Run the web server on settings.host:settings.port."""
    import uvicorn

    settings = get_settings()
    if embedded:
        from engine.workers.embedded import start_embedded

        start_embedded(settings)
        _print_welcome(settings.host, settings.port)
        workers, reload = 1, False  # the embedded worker lives in this one process
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        reload=reload,
    )


def _print_welcome(host: str, port: int) -> None:
    from api.demo import DEMO_PASSWORD, DEMO_USERS

    typer.echo(f"\npotok is running: http://{host}:{port}/  (API docs: http://{host}:{port}/docs)")
    logins = ", ".join(user.username for user in DEMO_USERS)
    typer.echo(f"demo logins ({DEMO_PASSWORD!r} for every one): {logins}\n")


demo_app = typer.Typer(help="Demo data for trying potok out", no_args_is_help=True)
app.add_typer(demo_app, name="demo")


@demo_app.command("load")
def demo_load() -> None:
    """Create the demo users and deploy every process in the bpmn/ folder."""
    from api.demo import load_demo
    from engine.db import session_scope
    from engine.errors import PotokError

    try:
        with session_scope(session_factory()) as session:
            created, outcome = load_demo(session, settings=get_settings())
    except PotokError as exc:
        _fail(exc)
    typer.echo(f"demo users created: {', '.join(created) or 'none (already there)'}")
    for item in outcome.deployed:
        state = "new version" if item.created else "unchanged"
        typer.echo(f"deployed {item.key} v{item.version} ({state})")


@app.command("deploy")
def deploy_files(
    files: Annotated[list[Path], typer.Argument(help=".bpmn, .dmn and form .json files")],
    deployed_by: Annotated[str, typer.Option(help="Recorded as the deployer")] = "cli",
) -> None:
    """Validate and deploy FILES as one bundle; print each process's version."""
    import handlers  # noqa: F401  (operators must be registered to validate service tasks)
    from engine.db import session_scope
    from engine.definitions import bundle_files, deploy
    from engine.errors import PotokError

    try:
        with session_scope(session_factory()) as session:
            outcome = deploy(session, files=bundle_files(files), deployed_by=deployed_by)
    except PotokError as exc:
        _fail(exc)
    for item in outcome.deployed:
        state = "new version" if item.created else "unchanged"
        typer.echo(f"{item.key} v{item.version} {item.content_hash[:12]} ({state})")


@app.command("start")
def start(
    key: Annotated[str, typer.Argument(help="Process key (BPMN process id)")],
    var: Annotated[list[str] | None, typer.Option("--var", help="name=value, repeatable")] = None,
    business_key: Annotated[str | None, typer.Option(help="Business key")] = None,
) -> None:
    """Start an instance of KEY and print its id and status."""
    from engine.db import session_scope
    from engine.errors import PotokError
    from engine.instances import start_instance

    try:
        variables = dict(_parse_var(item) for item in var or [])
        with session_scope(session_factory()) as session:
            instance = start_instance(
                session, key=key, variables=variables, business_key=business_key
            )
    except PotokError as exc:
        _fail(exc)
    typer.echo(f"{instance.id} {instance.status}")


@app.command("operators")
def operators(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print docs/operators.md (the full reference)")
    ] = False,
) -> None:
    """List the service-task operators with their parameters (`?` = optional)."""
    from handlers.reference import operators_markdown, operators_text

    typer.echo(operators_markdown() if markdown else operators_text(), nl=False)


hooks_app = typer.Typer(help="Inbound webhooks of the vendors", no_args_is_help=True)
app.add_typer(hooks_app, name="hooks")


@hooks_app.command("register")
def hooks_register(
    public_url: Annotated[
        str | None,
        typer.Option(help="Public URL of potok, e.g. https://crm.shop.ru (default: host:port)"),
    ] = None,
) -> None:
    """Subscribe Telegram bots, CDEK, MoySklad and Avito to potok's /hooks/*."""
    from api.hooks.register import register_webhooks
    from api.hooks.settings import get_hook_settings
    from handlers.clients import current_clients
    from handlers.settings import sandbox_root

    url = public_url or sandbox_root(get_settings()).removesuffix("/sandbox")
    for name, result in register_webhooks(url, current_clients(), get_hook_settings()).items():
        typer.echo(f"{name:<20} {result}")


@hooks_app.command("events")
def hooks_events(
    outcome: Annotated[
        str | None, typer.Option(help="unmatched | failed | delivered | started | ignored")
    ] = None,
    source: Annotated[str | None, typer.Option(help="telegram, yookassa, cdek, …")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first")] = 20,
) -> None:
    """Show the latest inbound webhook events (e.g. those that matched no process)."""
    import json

    from api.hooks.inbound import recent_events
    from engine.db import session_scope

    with session_scope(session_factory()) as session:
        for event in recent_events(session, outcome=outcome, source=source, limit=limit):
            what = {k: event.payload.get(k) for k in ("message", "correlation", "error")}
            line = json.dumps({k: v for k, v in what.items() if v}, ensure_ascii=False)
            at = event.received_at.isoformat(timespec="seconds")
            typer.echo(f"{at}  {event.source:<10} {event.outcome:<10} {event.external_id}  {line}")


def _parse_var(item: str) -> tuple[str, object]:
    """`name=value`; the value is read as JSON when it parses (numbers, true, lists)."""
    import json

    from engine.errors import ValidationFailed

    name, sep, raw = item.partition("=")
    if not sep or not name:
        raise ValidationFailed(f"--var expects name=value, got {item!r}")
    try:
        return name, json.loads(raw)
    except ValueError:
        return name, raw


def _fail(exc: Exception) -> NoReturn:
    from engine.errors import PotokError

    message = exc.message if isinstance(exc, PotokError) else str(exc)
    typer.echo(f"error: {message}", err=True)
    for detail in getattr(exc, "details", []):
        typer.echo(f"  {detail}", err=True)
    raise typer.Exit(1) from exc


if __name__ == "__main__":  # pragma: no cover - `python -m api.cli`
    app()
