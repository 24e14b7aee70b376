"""``bootstrapctl ha failover-config --out DIR``: keepalived files for every HA host.

The writer is the strongSwan face's (``ikev2_glue.failover_config``), imported
inside the command so loading the CLI never imports the face.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import ValidationError
from .common import emit_json, json_option, state

if TYPE_CHECKING:
    from ..services import home_agents
else:
    from .common import lazy_module

    home_agents = lazy_module("bootstrap.services.home_agents")


@click.command("failover-config")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Directory; one sub-directory per HA host is written.")
@click.option("--interface", default="eth0", show_default=True,
              help="The HA hosts' interface on the link VRRP runs on.")
@click.option("--network", "network_name", metavar="DOMAIN", help="Only this network's HAs.")
@click.option("--vrid-base", type=click.IntRange(1, 255), default=1, show_default=True,
              help="First VRRP router id (one per HA address of a network).")
@json_option
def failover_config_cmd(
    out_dir: Path, interface: str, network_name: str | None, vrid_base: int, as_json: bool
) -> None:
    """Write each HA host's keepalived.conf and track script from the store."""
    from ikev2_glue import failover_config

    st = state()
    agents = home_agents.list_all(st.store(), network_name)
    if not agents:
        raise ValidationError("the store has no home agents to write keepalived files for")
    if not interface or any(c.isspace() or c in '"{}#' for c in interface):
        raise ValidationError(f"--interface must be an interface name, not {interface!r}")
    config = str(st.settings.path) if st.settings.path else "/etc/mip6/bootstrap.toml"
    bootstrapctl = str(Path(sys.argv[0]).resolve()) if sys.argv[0] else "bootstrapctl"
    written = []
    for ha in agents:
        d = out_dir / ha.fqdn
        d.mkdir(parents=True, exist_ok=True)
        track = d / "mip6-track.sh"
        try:
            files = failover_config.host_files(
                ha, agents, interface, st.settings.vici.socket, bootstrapctl, config,
                str(track.resolve()), vrid_base)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        (d / "keepalived.conf").write_text(files.keepalived_conf)
        track.write_text(files.track_script)
        os.chmod(track, 0o755)
        written.append({"home_agent": ha.fqdn, "keepalived_conf": str(d / "keepalived.conf"),
                        "track_script": str(track)})
    if as_json:
        emit_json(written)
        return
    for w in written:
        click.echo(f"{w['home_agent']}: {w['keepalived_conf']}")
