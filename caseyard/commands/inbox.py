"""`caseyard inbox add-user|add-token|list-users|remove-user|revoke-token|unlock`: who may
sign in to the inbox (`caseyard run inbox`)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from caseyard.errors import ConfigError
from caseyard.inbox.auth import Role, UserStore


def register(app: typer.Typer) -> None:
    """Add `caseyard inbox add-user|add-token`."""
    inbox_app = typer.Typer(
        help="Inbox users and API tokens (in the file the inbox_users_file setting names).\n\n"
        "Example: caseyard inbox add-user alice --role reviewer --queue risk-review",
        no_args_is_help=True,
    )
    app.add_typer(inbox_app, name="inbox")

    @inbox_app.command("add-user")
    def add_user(
        name: Annotated[str, typer.Argument(help="The user's sign-in name.")],
        role: Annotated[
            Role,
            typer.Option(
                help="reviewer: decides the tasks of its queues; supervisor: every queue; "
                "auditor: sees every queue, decides nothing."
            ),
        ],
        queue: Annotated[
            list[str] | None,
            typer.Option("--queue", help="A queue a reviewer works (repeat for more)."),
        ] = None,
        password_stdin: Annotated[
            bool,
            typer.Option("--password-stdin", help="Read the password from stdin, not a prompt."),
        ] = False,
    ) -> None:
        """Add a user, or replace an existing user's role, queues and password.

        Example: caseyard inbox add-user alice --role reviewer --queue risk-review
        """
        from caseyard.cli import console, settings

        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        if not password:
            raise ConfigError("the password is empty")
        store = UserStore(settings().inbox_users_path)
        added = store.add_user(name, role, tuple(queue or ()), password)
        console.print(
            f"{'added' if added else 'updated'} {role.value} {name} in {store.path}",
            markup=False,
            highlight=False,
        )

    @inbox_app.command("add-token")
    def add_token(
        name: Annotated[str, typer.Argument(help="The user the token signs in as.")],
    ) -> None:
        """Make an API token for a user; it is shown once, only its sha256 is kept.

        Example: caseyard inbox add-token alice
        """
        from caseyard.cli import console, settings

        token = UserStore(settings().inbox_users_path).add_token(name)
        console.print(token, markup=False, highlight=False, soft_wrap=True)

    @inbox_app.command("list-users")
    def list_users() -> None:
        """List the users: role, queues, whether they have a password, how many tokens.

        Example: caseyard inbox list-users
        """
        from rich.table import Table

        from caseyard.cli import console, settings

        store = UserStore(settings().inbox_users_path)
        table = Table("user", "role", "queues", "password", "tokens")
        for name, user in sorted(store.load().users.items()):
            table.add_row(
                name,
                user.role.value,
                ", ".join(user.queues) or "(all)",
                "yes" if user.password else "no",
                str(len(user.tokens)),
            )
        console.print(table)

    @inbox_app.command("remove-user")
    def remove_user(name: Annotated[str, typer.Argument(help="The user to remove.")]) -> None:
        """Remove a user: their sessions and API tokens stop working at once.

        Example: caseyard inbox remove-user alice
        """
        from caseyard.cli import console, settings

        store = UserStore(settings().inbox_users_path)
        store.remove_user(name)
        console.print(f"removed {name} from {store.path}", markup=False, highlight=False)

    @inbox_app.command("revoke-token")
    def revoke_token(
        name: Annotated[str, typer.Argument(help="The user whose token goes.")],
        token_stdin: Annotated[
            bool, typer.Option("--token-stdin", help="Read the token to revoke from stdin.")
        ] = False,
        every: Annotated[
            bool, typer.Option("--all", help="Revoke every token of the user.")
        ] = False,
    ) -> None:
        """Revoke one API token of a user (given on stdin), or all of them (--all).

        Example: caseyard inbox revoke-token alice --all
        """
        from caseyard.cli import console, settings

        if token_stdin == every:
            raise ConfigError("say which token: --token-stdin (the token on stdin) or --all")
        token = sys.stdin.readline().strip() if token_stdin else None
        revoked = UserStore(settings().inbox_users_path).revoke_tokens(name, token)
        console.print(f"revoked {revoked} token(s) of {name}", markup=False, highlight=False)

    @inbox_app.command("unlock")
    def unlock(name: Annotated[str, typer.Argument(help="The locked-out user.")]) -> None:
        """Lift the lockout that failed sign-ins put on a user.

        Example: caseyard inbox unlock alice
        """
        from caseyard.cli import console, settings

        lifted = UserStore(settings().inbox_users_path).signins.unlock(name)
        console.print(
            f"unlocked {name}" if lifted else f"{name} was not locked",
            markup=False,
            highlight=False,
        )
