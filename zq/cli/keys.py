"""``zq keys``: CURVE key pairs for a cluster on a network (see README, "Running on a LAN")."""

from __future__ import annotations

import socket

import click

from zq.exceptions import SecurityConfigError
from zq.transport.curve import generate, read_public


@click.group(context_settings={"max_content_width": 100})
def keys() -> None:
    """Make CURVE key pairs: one for the dispatcher's process, one per worker host."""


@keys.command("generate")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option(
    "--name",
    default=None,
    help="File name of the pair: NAME.key and NAME.key_secret.  [default: this host's name]",
)
def generate_keys(directory: str, name: str | None) -> None:
    """Write a new key pair into DIRECTORY (created if needed; existing keys are kept).

    NAME.key is the public key: copy it to the peers that must trust this one (into the
    dispatcher's --curve-workers directory, or as the workers' --curve-server-key).
    NAME.key_secret holds both keys, is readable by its owner only, and stays on this host.
    """
    try:
        public_path, secret_path = generate(directory, name or socket.gethostname())
    except SecurityConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"public key: {public_path}  ({read_public(str(public_path)).decode()})")
    click.echo(f"secret key: {secret_path}  (owner-only; keep it on this host)")
