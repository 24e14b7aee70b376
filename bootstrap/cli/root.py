"""The core ``bootstrapctl`` commands: db, network, ha, ca, enroll, show, list, state changes."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

import click

from .. import domain
from ..services.actor import Actor
from .common import (
    CliState,
    LazyCommand,
    LazyGroup,
    emit_json,
    json_option,
    kv,
    lazy_module,
    state,
    stderr,
    table,
)
from .db_status import db_status
from .ha_drain import drain_cmd
from .ha_failover import failover_config_cmd
from .importer import import_cmd

if TYPE_CHECKING:
    from .. import migrate, serialize
    from ..services import (
        audit,
        credentials,
        home_agents,
        networks,
        subscriber_list,
        subscribers,
    )
else:  # loaded when a command first uses them (start-up time: see LazyGroup)
    migrate = lazy_module("bootstrap.migrate")
    serialize = lazy_module("bootstrap.serialize")
    audit = lazy_module("bootstrap.services.audit")
    credentials = lazy_module("bootstrap.services.credentials")
    home_agents = lazy_module("bootstrap.services.home_agents")
    networks = lazy_module("bootstrap.services.networks")
    subscribers = lazy_module("bootstrap.services.subscribers")
    subscriber_list = lazy_module("bootstrap.services.subscriber_list")

LAZY = {
    "dns": LazyCommand(
        "bootstrap.cli.dns:group",
        "The DNS publisher: outbox status, flush, reconciliation with the zones.",
    ),
    "export": LazyCommand(
        "bootstrap.cli.ikev2:export_cmd",
        "Write IDENTITY's strongSwan MN config (load: SWANCTL_DIR=OUT swanctl --load-all).",
    ),
    "radius": LazyCommand(
        "bootstrap.cli.ikev2:radius_group",
        'FreeRADIUS for radius mode ([vici] assign = "radius").',
    ),
    "operator": LazyCommand(
        "bootstrap.cli.operators:operator_group", "Operator accounts of the web UI."
    ),
    "token": LazyCommand(
        "bootstrap.cli.operators:token_group",
        "API tokens for scripts (sent as 'Authorization: Bearer TOKEN').",
    ),
}
"""Commands of the faces, imported on first use."""


@click.group(
    cls=LazyGroup,
    lazy=LAZY,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Exit codes: 0 success, 1 operational error (duplicate, unknown identity,"
    " store unreachable), 2 usage or configuration error.",
)
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    envvar="BOOTSTRAP_CONFIG",
    help="bootstrap.toml to use (env BOOTSTRAP_CONFIG; default: built-in defaults).",
)
@click.option("--db", "db_url", metavar="URL", help="Database URL; overrides the config.")
@click.pass_context
def root(ctx: click.Context, config_path: str | None, db_url: str | None) -> None:
    """Provision Mobile IPv6 subscribers, home networks and home agents."""
    ctx.obj = CliState(config_path=config_path, db_url=db_url)
    ctx.call_on_close(ctx.obj.close)


# ---------------------------------------------------------------- db


@root.group()
def db() -> None:
    """Schema migrations of the store."""


@db.command("upgrade")
@json_option
def db_upgrade(as_json: bool) -> None:
    """Apply every pending migration (safe to run again)."""
    st = state()
    before, after = migrate.upgrade(st.store(check_schema=False))
    if as_json:
        emit_json({"from": before, "to": after})
    elif before == after:
        click.echo(f"schema already at {after}")
    else:
        click.echo(f"schema upgraded from {before or 'empty'} to {after}")


@db.command("current")
@json_option
def db_current(as_json: bool) -> None:
    """Show the schema revision of the store and of the code."""
    store = state().store(check_schema=False)
    cur, head = migrate.current_revision(store), migrate.head_revision(store)
    if as_json:
        emit_json({"current": cur, "head": head, "up_to_date": cur == head})
    else:
        kv([("current", cur or "(empty)"), ("head", head), ("up to date", cur == head)])


db.add_command(db_status)


# ---------------------------------------------------------------- networks


@root.group()
def network() -> None:
    """Home networks (one per MSP domain)."""


@network.command("add")
@click.argument("domain_name", metavar="DOMAIN")
@click.option("--prefix", required=True, help="IPv6 home prefix, /64 or shorter.")
@click.option("--ipv4-pool", help="IPv4 HoA pool (/16 to /30) for dual-stack nodes.")
@click.option("--zone", "zones", multiple=True, help="DNS zone to publish into (repeatable).")
@click.option(
    "--ha-info",
    type=click.Choice([i.value for i in domain.HAInfo]),
    default="both",
    show_default=True,
    help="What DHCP home-information containers name: HA address, FQDN or both.",
)
@json_option
def network_add(
    domain_name: str,
    prefix: str,
    ipv4_pool: str | None,
    zones: tuple[str, ...],
    ha_info: str,
    as_json: bool,
) -> None:
    """Add a home network."""
    n = networks.add(state().store(), Actor.cli(), domain_name, prefix, ipv4_pool, zones, ha_info)
    if as_json:
        emit_json(serialize.network(n))
    else:
        click.echo(f"network {n.domain} added: prefix {n.prefix}")


@network.command("edit")
@click.argument("domain_name", metavar="DOMAIN")
@click.option("--zone", "zones", multiple=True, help="Replace the zone list (repeatable).")
@click.option("--no-zones", is_flag=True, help="Publish into no zone.")
@click.option("--ha-info", type=click.Choice([i.value for i in domain.HAInfo]))
@json_option
def network_edit(
    domain_name: str, zones: tuple[str, ...], no_zones: bool, ha_info: str | None, as_json: bool
) -> None:
    """Change a network's DNS zones or DHCP HA-information policy."""
    new_zones: list[str] | None = [] if no_zones else (list(zones) if zones else None)
    n = networks.update(state().store(), Actor.cli(), domain_name, new_zones, ha_info)
    if as_json:
        emit_json(serialize.network(n))
    else:
        click.echo(f"network {n.domain} updated")


@network.command("list")
@json_option
def network_list(as_json: bool) -> None:
    """List home networks."""
    items = networks.list_all(state().store())
    if as_json:
        emit_json([serialize.network(n) for n in items])
        return
    table(
        [
            (n.domain, n.prefix, n.ipv4_pool or "-", ",".join(n.zones) or "-", n.ha_info.value)
            for n in items
        ],
        ["DOMAIN", "PREFIX", "IPV4 POOL", "ZONES", "HA INFO"],
    )


# ---------------------------------------------------------------- home agents


@root.group()
def ha() -> None:
    """Home agents."""


@ha.command("add")
@click.argument("fqdn")
@click.option("--network", "network_name", required=True, metavar="DOMAIN")
@click.option("--address", required=True, help="The HA's IPv6 address.")
@click.option("--ipv4", help="The HA's IPv4 address (DSMIPv6, DHCPv4 option 68).")
@click.option("--priority", type=int, default=10, show_default=True)
@click.option("--weight", type=int, default=100, show_default=True)
@click.option("--capacity", type=int, default=10000, show_default=True)
@click.option(
    "--allow-outside-prefix", is_flag=True, help="Accept an address outside the home prefix."
)
@json_option
def ha_add(
    fqdn: str,
    network_name: str,
    address: str,
    ipv4: str | None,
    priority: int,
    weight: int,
    capacity: int,
    allow_outside_prefix: bool,
    as_json: bool,
) -> None:
    """Add a home agent to a network."""
    st = state()
    h = home_agents.add(
        st.store(),
        Actor.cli(),
        fqdn,
        network_name,
        address,
        ipv4,
        priority,
        weight,
        capacity,
        allow_outside_prefix,
        st.settings,
    )
    if as_json:
        emit_json(serialize.home_agent(h))
    else:
        click.echo(f"home agent {h.fqdn} added to {h.network} at {h.address}")


@ha.command("list")
@click.option("--network", "network_name", metavar="DOMAIN")
@json_option
def ha_list(network_name: str | None, as_json: bool) -> None:
    """List home agents with state and load."""
    items = home_agents.list_all(state().store(), network_name)
    if as_json:
        emit_json([serialize.home_agent(h) for h in items])
        return
    table(
        [
            (
                h.fqdn,
                h.network,
                h.address,
                h.ipv4 or "-",
                h.priority,
                h.weight,
                f"{h.assigned}/{h.capacity}",
                h.state.value,
                h.last_heartbeat.isoformat(timespec="seconds") if h.last_heartbeat else "-",
            )
            for h in items
        ],
        ["FQDN", "NETWORK", "ADDRESS", "IPV4", "PRIO", "WEIGHT", "LOAD", "STATE", "HEARTBEAT"],
    )


@ha.command("edit")
@click.argument("fqdn")
@click.option("--priority", type=int, help="SRV priority (lower is tried first).")
@click.option("--weight", type=int, help="SRV weight among equal priorities.")
@click.option("--capacity", type=int, help="Subscribers it may carry (not below its load).")
@json_option
def ha_edit(
    fqdn: str, priority: int | None, weight: int | None, capacity: int | None, as_json: bool
) -> None:
    """Change an HA's priority, weight or capacity."""
    st = state()
    h = home_agents.edit(st.store(), Actor.cli(), fqdn, priority, weight, capacity, st.settings)
    if as_json:
        emit_json(serialize.home_agent(h))
    else:
        click.echo(f"home agent {h.fqdn}: priority {h.priority}, weight {h.weight},"
                   f" capacity {h.capacity}")


def _ha_state_cmd(name: str, target: domain.HAState, help_text: str) -> click.Command:
    @click.argument("fqdn")
    @json_option
    def cmd(fqdn: str, as_json: bool) -> None:
        st = state()
        h = home_agents.set_state(st.store(), Actor.cli(), fqdn, target, st.settings)
        if as_json:
            emit_json(serialize.home_agent(h))
        else:
            click.echo(f"home agent {h.fqdn} is now {h.state.value}")

    cmd.__doc__ = help_text
    return click.command(name)(cmd)


ha.add_command(drain_cmd)
ha.add_command(failover_config_cmd)
ha.add_command(_ha_state_cmd("activate", domain.HAState.ACTIVE, "Offer an HA again."))
ha.add_command(_ha_state_cmd("down", domain.HAState.DOWN, "Mark an HA out of service."))


# ---------------------------------------------------------------- CA


@root.group()
def ca() -> None:
    """The store's certificate authority for certificate subscribers."""


@ca.command("init")
@click.option("--common-name", default="mip6-bootstrap CA", show_default=True)
@json_option
def ca_init(common_name: str, as_json: bool) -> None:
    """Create the CA (once); prints its certificate."""
    st = state()
    pem = credentials.ca_init(st.store(), st.settings, common_name, Actor.cli())
    if as_json:
        emit_json(serialize.ca(pem))
    else:
        click.echo(pem, nl=False)


@ca.command("show")
@json_option
def ca_show(as_json: bool) -> None:
    """Print the CA certificate."""
    pem = credentials.ca_cert_pem(state().store())
    if pem is None:
        from ..errors import NotFound

        raise NotFound("the store has no CA yet; run 'bootstrapctl ca init' first")
    if as_json:
        emit_json(serialize.ca(pem))
    else:
        click.echo(pem, nl=False)


# ---------------------------------------------------------------- subscribers


@root.command()
@click.argument("identity")
@click.option("--network", "network_name", metavar="DOMAIN", help="Default: the identity's domain.")
@click.option(
    "--fqdn", help="Default: derived from the identity (mn@example.com -> mn.example.com)."
)
@click.option("--auth", type=click.Choice(["eap", "cert"]), default="eap", show_default=True)
@click.option("--ipv4", is_flag=True, help="Also assign an IPv4 home address (dual stack).")
@json_option
def enroll(
    identity: str,
    network_name: str | None,
    fqdn: str | None,
    auth: str,
    ipv4: bool,
    as_json: bool,
) -> None:
    """Enroll a subscriber: HA, home address(es) and credential, shown once."""
    st = state()
    e = subscribers.enroll(
        st.store(), st.settings, Actor.cli(), identity, network_name, fqdn, auth, ipv4
    )
    _show_enrollment(e, as_json)


def _show_enrollment(e: subscribers.Enrollment, as_json: bool) -> None:
    if as_json:
        emit_json(serialize.enrollment_flat(e))
        return
    s = e.subscriber
    pairs: list[tuple[str, Any]] = [
        ("identity", s.identity),
        ("fqdn", s.fqdn),
        ("network", s.network),
        ("home agent", f"{e.home_agent.fqdn} ({e.home_agent.address})"),
        ("home address", ", ".join(str(a) for a in s.hoas)),
    ]
    if s.hoa4:
        pairs.append(("ipv4 home address", s.hoa4))
    pairs.append(("auth", s.auth.value))
    if e.secret is not None:
        pairs.append(("eap secret", e.secret))
    else:
        pairs += [("certificate", e.cert_path), ("private key", e.key_path), ("ca", e.ca_path)]
    kv(pairs)
    if e.secret is not None:
        stderr("The EAP secret is shown only now; it is stored encrypted.")


@root.command()
@click.argument("identity")
@json_option
def show(identity: str, as_json: bool) -> None:
    """Show one subscriber with its HA, home addresses and bindings."""
    store = state().store()
    sub = subscribers.get(store, identity)
    ha_ = subscribers.ha_of(store, identity)
    binds = subscribers.bindings_of(store, identity)
    out = serialize.subscriber_detail(sub, ha_, binds)
    if as_json:
        emit_json(out)
        return
    kv(
        [
            ("identity", sub.identity),
            ("fqdn", sub.fqdn),
            ("network", sub.network),
            ("state", sub.state.value),
            ("auth", sub.auth.value),
            ("home agent", f"{ha_.fqdn} ({ha_.address})" if ha_ else "-"),
            ("home address", ", ".join(str(a) for a in sub.hoas) or "-"),
            ("ipv4 home address", sub.hoa4 or "-"),
            ("created", sub.created_at.isoformat(timespec="seconds") if sub.created_at else "-"),
        ]
    )
    if binds:
        click.echo("")
        table(
            [
                (
                    b.home_agent,
                    b.care_of,
                    b.hoa,
                    b.up_at.isoformat(timespec="seconds"),
                    b.down_at.isoformat(timespec="seconds") if b.down_at else "up",
                )
                for b in binds
            ],
            ["HA", "CARE-OF", "HOA", "UP", "DOWN"],
        )


@root.command("list")
@click.option("--network", "network_name", metavar="DOMAIN")
@click.option("--ha", "ha_name", metavar="FQDN", help="Only the subscribers of this HA.")
@click.option("--state", "state_", type=click.Choice([s.value for s in domain.SubscriberState]))
@click.option("--auth", type=click.Choice([a.value for a in domain.AuthMethod]))
@click.option("--search", help="Substring of identity or FQDN.")
@click.option("--sort", default="identity", show_default=True,
              help="identity, fqdn, network, home_agent, state, auth or created.")
@click.option("--desc", is_flag=True, help="Sort in descending order.")
@json_option
def list_cmd(
    network_name: str | None, ha_name: str | None, state_: str | None, auth: str | None,
    search: str | None, sort: str, desc: bool, as_json: bool
) -> None:
    """List subscribers (the same filters and sorting as the web UI and the API)."""
    store = state().store()
    first = True
    if as_json:
        click.echo("[", nl=False)
    rows: list[tuple[Any, ...]] = []
    query = subscriber_list.Query(network_name, ha_name, state_, auth, search, sort, desc,
                                  page=1, size=subscriber_list.MAX_SIZE)
    while True:
        result = subscriber_list.page(store, query)
        for sub in result.items:
            if as_json:
                click.echo(
                    ("" if first else ",") + "\n  " + json.dumps(serialize.subscriber(sub)),
                    nl=False,
                )
                first = False
            else:
                rows.append(
                    (
                        sub.identity,
                        sub.fqdn,
                        sub.state.value,
                        sub.home_agent or "-",
                        sub.hoas[0] if sub.hoas else "-",
                        sub.hoa4 or "-",
                    )
                )
        if query.page >= result.pages or not result.items:
            break
        query = dataclasses.replace(query, page=query.page + 1)
    if as_json:
        click.echo("\n]" if not first else "]")
    else:
        table(rows, ["IDENTITY", "FQDN", "STATE", "HA", "HOA", "HOA4"])


@root.command()
@click.argument("identity")
@click.option("--auth", type=click.Choice(["eap", "cert"]), help="Default: as before.")
@click.option("--ipv4", is_flag=True, help="Also assign an IPv4 home address (dual stack).")
@json_option
def reenroll(identity: str, auth: str | None, ipv4: bool, as_json: bool) -> None:
    """Enroll a revoked subscriber again: new credential, HA slot and HoA (old HoA stays
    quarantined)."""
    st = state()
    e = subscribers.reenroll(st.store(), st.settings, Actor.cli(), identity, auth, ipv4)
    _show_enrollment(e, as_json)


def _state_cmd(name: str, help_text: str) -> click.Command:
    """``suspend`` / ``resume`` / ``revoke``: the service function of the same name."""

    @click.argument("identity")
    @json_option
    def cmd(identity: str, as_json: bool) -> None:
        st = state()
        sub = getattr(subscribers, name)(st.store(), st.settings, Actor.cli(), identity)
        if as_json:
            emit_json(serialize.subscriber(sub))
        else:
            click.echo(f"subscriber {sub.identity} is now {sub.state.value}")

    cmd.__doc__ = help_text
    return click.command(name)(cmd)


root.add_command(_state_cmd("suspend", "Suspend a subscriber (keeps its HoA)."))
root.add_command(_state_cmd("resume", "Resume a suspended subscriber."))
root.add_command(_state_cmd("revoke", "Revoke a subscriber for good (HoA quarantined)."))
root.add_command(import_cmd)


@root.command("audit")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option("--target", help="Only entries about this identity / name.")
@json_option
def audit_cmd(limit: int, target: str | None, as_json: bool) -> None:
    """Show the audit log, newest first."""
    items = audit.recent(state().store(), limit=limit, target=target)
    if as_json:
        emit_json([serialize.audit_entry(e) for e in items])
        return
    table(
        [
            (e.at.isoformat(timespec="seconds"), f"{e.actor}({e.source})", e.action, e.target)
            for e in items
        ],
        ["AT", "WHO", "ACTION", "TARGET"],
    )


# ---------------------------------------------------------------- config


@root.group("config")
def config_group() -> None:
    """The configuration file."""


@config_group.command("example")
def config_example() -> None:
    """Print a documented bootstrap.toml with every key at its default."""
    from ..config_doc import render_example

    click.echo(render_example(), nl=False)


@config_group.command("check")
@json_option
def config_check(as_json: bool) -> None:
    """Load the config file and build the settings of every enabled service (exit 2 if bad).

    The same check ``bootstrapd`` runs before it starts (:func:`bootstrap.faces.check`).
    """
    from .. import faces

    st = state()
    s = st.settings
    checked = faces.enabled(s)
    faces.check(s, checked)
    if as_json:
        emit_json(
            {
                "ok": True,
                "path": str(s.path) if s.path else None,
                "database": s.database.url,
                "services": checked,
            }
        )
    else:
        click.echo(f"{s.path or 'built-in defaults'}: ok ({', '.join(checked) or 'no service'})")
