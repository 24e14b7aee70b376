"""``bootstrapctl export`` (the MN's swanctl bundle) and ``bootstrapctl radius config``."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import ValidationError
from ..services import bundle, radius
from .common import emit_json, json_option, state


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
    type=click.Choice(list(bundle.MODES)),
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
@json_option
def export_cmd(
    identity: str, fmt: str, out: Path, assign: str | None, ike_id: str, as_json: bool
) -> None:
    """Write IDENTITY's strongSwan MN config (load: SWANCTL_DIR=OUT swanctl --load-all)."""
    if fmt != "swanctl":
        raise ValidationError(f"format {fmt!r} is not supported")
    st = state()
    inp = bundle.mn_bundle_input(st.store(), st.settings, identity, assign, ike_id == "fqdn")
    written = bundle.write_bundle(out, bundle.mn_bundle(inp))
    files = sorted(str(p.relative_to(out)) for p in written)
    if as_json:
        emit_json(
            {
                "identity": inp.sub.identity,
                "out": str(out),
                "files": files,
                "home_agent": inp.ha_fqdn,
                "address": inp.ha_address,
                "mode": inp.mode,
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
def radius_config(out: Path, as_json: bool) -> None:
    """Write a FreeRADIUS directory for this HA ([vici] home_agent) and charon's include."""
    st = state()
    written = radius.write_config(st.store(), st.settings, out)
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
