"""The `potok` command line: database, users, tokens, the web server (and, later, processes).

Sub-commands are grouped in sub-typers (`db`, `user`, `token`); more commands attach to `app`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

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
) -> None:
    """Run the web server on settings.host:settings.port."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        reload=reload,
    )


if __name__ == "__main__":  # pragma: no cover - `python -m api.cli`
    app()
