"""``flask users``: create staff accounts from the shell (there is no default account)."""

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from finder.accounts.models import Role, User
from finder.accounts.operations import AccountError, create_user
from finder.extensions import db


@click.group("users")
def users_group():
    """Staff accounts."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@with_appcontext
def create(email: str, role: str):
    """Create an account; the password is asked for, never given on the command line."""
    # Prompted, not an option: a password on the command line ends up in shell history and ps.
    password = click.prompt("Password (at least 12 characters)", hide_input=True,
                            confirmation_prompt=True)
    try:
        user = create_user(db.session, email=email, password=password, role=Role(role),
                           actor="cli:flask users create")
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Created {user.role} account {user.email}.")


@users_group.command("list")
@with_appcontext
def list_users():
    """Every account with its role."""
    for user in db.session.execute(select(User).order_by(User.email)).scalars():
        state = "" if user.active else " (deactivated)"
        click.echo(f"{user.email}\t{user.role}{state}")
