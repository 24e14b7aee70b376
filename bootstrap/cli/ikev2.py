"""``bootstrapctl export`` (the MN's swanctl bundle) and ``bootstrapctl radius config``.

The strongSwan face writes both (``ikev2_glue.mn_bundle``,
``ikev2_glue.radius_config``); it is imported inside the commands only, so
loading the CLI never imports the face.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path

import click

from ..config import ViciConfig
from ..errors import ValidationError
from ..services import bundle
from ..services.actor import Actor
from .common import emit_json, json_option, state

ASSIGN_CHOICES: tuple[str, ...] = next(
    f.metadata["choices"] for f in dataclasses.fields(ViciConfig) if f.name == "assign"
)
"""What ``[vici] assign`` may say (the config's own list)."""


@click.command("export")
@click.argument("identity")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["swanctl"]),
    default="swanctl",
    show_default=True,
    help="Bundle format.",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write (created; secrets 0600).",
)
@click.option(
    "--assign",
    type=click.Choice(list(ASSIGN_CHOICES)),
    default=None,
    help="The HA's assignment mode (default: [vici] assign); decides pubkey vs EAP-TLS"
    " for certificate subscribers.",
)
@click.option(
    "--ike-id",
    type=click.Choice(["identity", "fqdn"]),
    default="identity",
    show_default=True,
    help="IKE identity of the MN: its RFC 822 identity or its FQDN"
    " (RFC 5026 ID_FQDN; per-subscriber HAs need [vici] fqdn_identities).",
)
@click.option(
    "--again",
    is_flag=True,
    help="Re-issue a bundle that was handed out before (audited as such); without it a"
    " second export is refused, like a second web download.",
)
@json_option
def export_cmd(
    identity: str,
    fmt: str,
    out: Path,
    assign: str | None,
    ike_id: str,
    again: bool,
    as_json: bool,
) -> None:
    """Write IDENTITY's strongSwan MN config (load: SWANCTL_DIR=OUT swanctl --load-all).

    The bundle holds the subscriber's secret, so it is handed out once
    (audited as subscriber.bundle), whether by this command or the web UI.
    """
    from ikev2_glue import mn_bundle
    from ikev2_glue.settings import AssignMode, assign_mode

    if fmt != "swanctl":
        raise ValidationError(f"format {fmt!r} is not supported")
    st = state()
    mode = AssignMode(assign) if assign else assign_mode(st.settings)
    render = partial(mn_bundle.render, assign=mode, fqdn_id=ike_id == "fqdn")
    issued = bundle.issue_once(st.store(), st.settings, Actor.cli(), identity, render, again)
    written = bundle.write_bundle(out, issued.files)
    files = sorted(str(p.relative_to(out)) for p in written)
    inp = issued.input
    if as_json:
        emit_json(
            {
                "identity": inp.sub.identity,
                "out": str(out),
                "files": files,
                "home_agent": inp.ha_fqdn,
                "address": inp.ha_address,
                "mode": mode.value,
                "again": issued.again,
            }
        )
    else:
        click.echo(
            f"wrote {len(files)} files for {inp.sub.identity} to {out}"
            f" (HA {inp.ha_fqdn} at {inp.ha_address})"
        )


@click.group("radius")
def radius_group() -> None:
    """FreeRADIUS for radius mode ([vici] assign = "radius")."""


@radius_group.command("config")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for raddb/, run/, log/ and strongswan.d/eap-radius.conf.",
)
@json_option
def radius_config_cmd(out: Path, as_json: bool) -> None:
    """Write a FreeRADIUS directory for this HA ([vici] home_agent) and charon's include."""
    from ikev2_glue import radius_config

    st = state()
    written = radius_config.write_config(st.store(), st.settings, out)
    files = sorted(str(p.relative_to(out)) for p in written)
    if as_json:
        emit_json(
            {
                "out": str(out),
                "files": files,
                "home_agent": st.settings.vici.home_agent,
                "start": f"freeradius -f -d {out / 'raddb'}",
                "include": str(out / "strongswan.d" / "eap-radius.conf"),
            }
        )
    else:
        click.echo(f"wrote {len(files)} files to {out}")
        click.echo(f"start FreeRADIUS:  freeradius -f -d {out / 'raddb'}")
        click.echo(f"in strongswan.conf: include {out / 'strongswan.d' / 'eap-radius.conf'}")


commands = [export_cmd, radius_group]
