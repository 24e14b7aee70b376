"""The bridge: keeps one charon in step with the store, and the store in step with charon.

Store -> charon: at every (re)connect the HA's certificate and the store's
CA are loaded, then either the one radius connection or every subscriber of
this HA (per-subscriber mode, :mod:`.plan`); afterwards the ``subscribers``
change version is polled and only the differences are pushed; suspended,
revoked or moved subscribers are unloaded and their SAs terminated.

Charon -> store: ``ike-updown`` / ``ike-rekey`` / ``ike-update`` events open,
move and close bindings (:mod:`bootstrap.services.bindings`); after every
(re)connect ``list-sas`` is reconciled with the open bindings.

Resilience: charon may restart at any time and then remembers nothing; the
bridge reconnects with backoff (0.2 s doubling to ``[vici] reconnect_max``),
re-pushes everything and logs one line per state change.  It writes the
HA's heartbeat while charon answers.  A draining HA loads nothing new and
redirects its live MNs (:meth:`Bridge.drain_step`).

Store outages: the bridge stays connected to charon.  An event the store
cannot take (lost connection) goes to the durable queue (:mod:`.journal`,
``[vici] queue_file``), and so does every later one until the queue is
empty again, so the store sees them in charon's order; the queue is applied
about once a second while the store is away, then ``list-sas`` is reconciled.

Every decision is a pure function the bridge only executes: what to load
and remove (:func:`.plan.plan_sync`, :func:`.plan.plan_resync`), which SAs to
redirect or terminate (:mod:`.drain`), what an event means (:mod:`.model`).
The bridge supplies the clock, charon and the store.

Home link: with ``[vici] home_interface`` the bridge keeps the kernel's proxy
neighbour entries there equal to the HoAs of this HA's open bindings
(:mod:`.proxy` plans, :mod:`.neigh` executes) after every reconcile, every
batch of SA events and every poll; while charon is unreachable it holds no
SA, so every entry of ours is removed until the next reconcile.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy.exc import DBAPIError

from bootstrap import domain
from bootstrap.errors import NotFound
from bootstrap.freshness import FRESHNESS
from bootstrap.services import availability, bindings, bundle, home_agents, takeover, versions

from . import drain, model, plan, profile, proxy, reinit
from .journal import Entry, Journal
from .link import CharonLink, EventPump, ViciError
from .neigh import ProxyError, ProxyTable
from .settings import AssignMode, ViciSettings
from .store_side import StoreSide

log = logging.getLogger("ikev2_glue")

EVENTS = Counter("mip6bs_vici_events_total", "SA events handled", ["kind"])
RECONNECTS = Counter("mip6bs_vici_connects_total", "Successful connections to charon")
SYNC_CHANGES = Counter("mip6bs_vici_sync_changes_total", "Subscribers (un)loaded", ["action"])
BAD_EVENTS = Counter("mip6bs_vici_bad_events_total", "VICI events that could not be handled")
LOADED = Gauge("mip6bs_vici_loaded_subscribers", "Subscribers loaded into charon")
QUEUED = Gauge("mip6bs_vici_queued_events", "Binding events waiting in [vici] queue_file")
REPLAY_INTERVAL = 1.0
PROXIES = Gauge("mip6bs_vici_proxy_entries", "HoAs this HA answers for on its home link")
PROXY_CHANGES = Counter("mip6bs_vici_proxy_changes_total", "Proxy entries changed", ["action"])
REINIT = Counter("mip6bs_vici_reinit_total",
                 "HA-initiated re-bootstraps after a takeover, by outcome", ["outcome"])

REDIRECT_GRACE = drain.REDIRECT_GRACE


async def next_event(queue: asyncio.Queue[tuple[Any, Any]], timeout: float) -> tuple[Any, Any]:
    """The next charon event, or :class:`TimeoutError` after ``timeout`` seconds.

    ``asyncio.timeout``, not ``wait_for``: on Python 3.11 ``wait_for`` swallows a
    cancellation that arrives while an event is being handed over (about 1 in 10
    under a stream of events), so bootstrapd ignored SIGTERM with live SAs.
    """
    async with asyncio.timeout(timeout):
        return await queue.get()


@dataclass
class BridgeState:
    """What the bridge believes charon holds (rebuilt at every connect)."""

    loaded: dict[int, str] = field(default_factory=dict)
    leased_pools: set[str] = field(default_factory=set)
    sub_version: int = -1
    radius_loaded: bool = False
    warned_limit: bool = False
    drain: drain.DrainState = field(default_factory=drain.DrainState)
    pacer: reinit.Pacer | None = None


class CharonGone(Exception):
    """The event session ended: charon stopped or restarted."""


def to_plan_creds(c: bundle.SubscriberCredentials) -> plan.SubscriberCreds:
    return plan.SubscriberCreds(
        id=c.id, identity=c.identity, fqdn=c.fqdn, auth=c.auth,
        active=c.state is domain.SubscriberState.ACTIVE,
        hoa6=c.hoa6, hoa4=c.hoa4, eap_secret=c.eap_secret,
    )


def live_sa(sa: model.IkeSa) -> bindings.LiveSa:
    return bindings.LiveSa(
        uniqueid=sa.uniqueid, identity=sa.identity, care_of=sa.remote_host,
        care_of_port=sa.remote_port, vips=sa.vips,
    )


class Bridge:
    """One bridge for the HA ``[vici] home_agent`` and charon at ``[vici] socket``."""

    def __init__(
        self,
        cfg: ViciSettings,
        hub: StoreSide,
        announce: Callable[[str], None] | None = None,
        poll_interval: float | None = None,
    ) -> None:
        self.cfg = cfg
        self.hub = hub
        self.store = hub.store
        self.fqdn = cfg.home_agent
        self.mode = cfg.assign
        self.poll = poll_interval or cfg.poll_interval
        self.publish_dns = cfg.publish_on_registration
        self.proxies = ProxyTable(cfg.home_interface) if cfg.home_interface else None
        self._proxy_ranges: tuple[proxy.Network, ...] = ()
        self._proxy_enabled = False
        self.announce = announce
        self.link = CharonLink(self.cfg.socket, self.cfg.command_timeout)
        self.state = BridgeState()
        self.connected = asyncio.Event()
        self.synced = asyncio.Event()
        self._last_state = ""
        self._queue: asyncio.Queue[tuple[Any, Any]] = asyncio.Queue(maxsize=10000)
        self._ha: domain.HomeAgent | None = None
        self._ha_side: plan.HaSide | None = None
        self._pump: EventPump | None = None
        self.journal = (
            Journal(Path(cfg.queue_file), cfg.queue_limit) if cfg.queue_file else None
        )
        QUEUED.set(len(self.journal) if self.journal is not None else 0)

    # ------------------------------------------------------------ logging
    def _say(self, line: str, level: int = logging.INFO) -> None:
        """One log line per state change."""
        if line != self._last_state:
            self._last_state = line
            log.log(level, "vici: %s", line)

    # ------------------------------------------------------------ main loop
    async def run(self) -> None:
        backoff = 0.2
        announced = False
        while True:
            try:
                await self._connect()
                backoff = 0.2
                if not announced and self.announce is not None:
                    self.announce(
                        f"vici: bridge for {self.fqdn} ({self.mode}) on charon at {self.cfg.socket}"
                    )
                    announced = True
                await self._serve()
            except (OSError, CharonGone, *ViciError) as exc:
                reason = str(exc) or type(exc).__name__
                self._say(f"charon at {self.cfg.socket} unreachable ({reason}); retrying")
            except DBAPIError as exc:
                self._say(f"store unreachable ({type(exc.orig).__name__}); retrying",
                          logging.WARNING)
            finally:
                self.connected.clear()
                self.synced.clear()
                await asyncio.to_thread(self._sync_proxies, False)
                if self._pump is not None:
                    await asyncio.to_thread(self._pump.stop)
                    self._pump = None
                self.link.close()
            await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, self.cfg.reconnect_max)

    async def _connect(self) -> None:
        version = await asyncio.to_thread(self.link.connect)
        self.state = BridgeState()
        self._drain_queue()
        loop = asyncio.get_running_loop()

        def deliver(name: Any, msg: Any) -> None:
            # RuntimeError / timeout: the loop is closed or stuck, the bridge is going away
            with contextlib.suppress(Exception):
                put = self._queue.put((name, msg))
                try:
                    asyncio.run_coroutine_threadsafe(put, loop).result(timeout=60)
                except RuntimeError:
                    put.close()
                    raise

        # listen first, so nothing that happens during the push and reconcile is missed
        self._pump = EventPump(self.cfg.socket, deliver, tick=0.5)
        await asyncio.to_thread(self._pump.start)
        RECONNECTS.inc()
        self._say(f"connected to {version} at {self.cfg.socket}")
        self.connected.set()
        await self._push_all()
        await asyncio.to_thread(self._replay)  # older than what list-sas says now
        await asyncio.to_thread(self._reconcile)
        await asyncio.to_thread(self._sync_proxies, True)
        self.synced.set()

    def _drain_queue(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        next_beat = 0.0
        next_poll = loop.time() + self.poll
        next_replay = loop.time()
        while True:
            now = loop.time()
            if now >= next_beat:
                await asyncio.to_thread(self._heartbeat)
                next_beat = now + self.cfg.heartbeat_interval
            if self._queued() and now >= next_replay:
                await asyncio.to_thread(self._replay)
                next_replay = loop.time() + REPLAY_INTERVAL
            if now >= next_poll:  # also under a steady stream of events
                try:
                    await self._poll()
                    if not self._queued():
                        FRESHNESS.refreshed("vici")
                except DBAPIError as exc:  # stay with charon; events go to the queue
                    FRESHNESS.failed("vici", "store unreachable")
                    log.debug("vici: poll failed: %s", availability.reason(exc))
                    self._say("store unreachable; charon's binding events are queued",
                              logging.WARNING)
                next_poll = loop.time() + self.poll
            wake = min(next_poll, next_beat, next_replay if self._queued() else next_poll)
            timeout = max(0.0, wake - loop.time())
            try:
                name, msg = await next_event(self._queue, timeout)
            except TimeoutError:
                continue
            if name is None:
                raise CharonGone(str(msg))
            events = self._parse(name, msg)
            if events:  # child-updown & co. need no thread hop
                await asyncio.to_thread(self._apply_events, events)
                if any(isinstance(e, model.SaUp | model.SaDown) for e in events):
                    await asyncio.to_thread(self._sync_proxies, True)

    # ------------------------------------------------------------ store -> charon
    def _load_ha(self) -> plan.HaSide:
        ha = home_agents.get(self.store, self.fqdn)
        creds = self.hub.ha_credentials(self.fqdn)
        self._ha = ha
        side = plan.HaSide(
            fqdn=ha.fqdn, address=str(ha.address), cert_pem=creds.cert_pem, ca_pem=creds.ca_pem,
            ike_id=creds.ike_id, fqdn_ids=self.cfg.fqdn_identities,
        )
        self._ha_side = side
        self.link.load_base(creds.ca_pem, creds.cert_pem, creds.key_pem)
        return side

    async def _push_all(self) -> None:
        side = await asyncio.to_thread(self._load_ha)
        existing = await asyncio.to_thread(self.link.loaded_conns)
        radius_mode = self.mode is AssignMode.RADIUS
        todo = plan.plan_resync(existing, radius_mode, side.fqdn_ids)
        for name in todo.unload:
            await asyncio.to_thread(self.link.unload_conn, name)
        for removal in todo.remove:
            await asyncio.to_thread(self.link.remove, removal)
        self.state.loaded = dict(todo.loaded)
        if radius_mode:
            await asyncio.to_thread(self.hub.fill_nt_hashes)
            await asyncio.to_thread(self._radius_conn, side)
        else:
            await self._sync(force=True)

    def _radius_conn(self, side: plan.HaSide) -> None:
        if self._ha is not None and self._ha.state is not domain.HAState.ACTIVE:
            self.link.unload_conn(plan.RADIUS_CONN)
            self.state.radius_loaded = False
            return
        self.link.load_conn(plan.radius_conn(side))
        self.state.radius_loaded = True

    def _desired(self) -> dict[int, plan.Loadout]:
        assert self._ha_side is not None
        if self._ha is not None and self._ha.state is not domain.HAState.ACTIVE:
            return {}  # draining / down: accept nobody new, live SAs are moved by drain_step
        subs = self.hub.ha_subscribers(self.fqdn)
        limit = self.cfg.per_subscriber_limit
        if len(subs) > limit and not self.state.warned_limit:
            self.state.warned_limit = True
            log.warning(
                "vici: %s holds %d subscribers, more than [vici] per_subscriber_limit = %d;"
                " charon's IKE_SA_INIT cost grows with the square of the loaded connections"
                " (measured: 21 ms per setup at 1,000, 420-480 ms at 10,000): use [vici] assign ="
                " \"radius\" for large HAs",
                self.fqdn, len(subs), limit,
            )
        return plan.desired_loadouts(self._ha_side, (to_plan_creds(c) for c in subs))

    async def _sync(self, force: bool = False) -> plan.SyncPlan | None:
        """Push the differences between the store and charon; None if nothing moved."""
        ver = (await asyncio.to_thread(versions.current, self.store)).get(versions.SUBSCRIBERS, 0)
        if not force and ver == self.state.sub_version:
            return None
        desired = await asyncio.to_thread(self._desired)
        todo = plan.plan_sync(self.state.loaded, desired)
        await asyncio.to_thread(self._apply, todo)
        self.state.sub_version = ver
        if not todo.empty:
            log.info(
                "vici: synced %s: %d loaded, %d removed, %d subscribers in charon",
                self.fqdn, len(todo.load), len(todo.remove), len(self.state.loaded),
            )
        return todo

    def _apply(self, todo: plan.SyncPlan) -> None:
        active = self._active()
        for removal in todo.remove:
            self.state.leased_pools.update(self.link.remove(removal, terminate=active))
            self.state.loaded.pop(removal.sub_id, None)
            SYNC_CHANGES.labels("remove").inc()
        for pool in list(self.state.leased_pools):
            if self.link.unload_pool(pool):
                self.state.leased_pools.discard(pool)
        for lo in todo.load:
            try:
                self.link.load(lo)
            except ViciError as exc:
                log.warning("vici: charon refused subscriber %s: %s", lo.identity, exc)
                continue
            self.state.loaded[lo.sub_id] = lo.fingerprint
            SYNC_CHANGES.labels("load").inc()
        LOADED.set(len(self.state.loaded))

    async def _poll(self) -> None:
        """Periodic: HA state (drain), subscriber changes."""
        ha = await asyncio.to_thread(home_agents.get, self.store, self.fqdn)
        state_changed = self._ha is None or ha.state is not self._ha.state
        self._ha = ha
        if self.mode is AssignMode.RADIUS:
            if state_changed and self._ha_side is not None:
                await asyncio.to_thread(self._radius_conn, self._ha_side)
            await self._sync_radius()
        else:
            await self._sync(force=state_changed)
        if ha.state is not domain.HAState.ACTIVE:
            await asyncio.to_thread(self.drain_step)
        else:
            try:
                await asyncio.to_thread(self.reinit_step)
            except (OSError, *ViciError, DBAPIError):
                raise  # charon or the store gone: the run loop reconnects
            except Exception as exc:  # a takeover must never stop the bridge
                REINIT.labels("error").inc()
                log.warning("vici: HA-initiated re-bootstrap failed this round: %s", exc)
        # bindings closed by another host's transaction (a move) or by reconcile
        await asyncio.to_thread(self._sync_proxies, True)

    # ------------------------------------------------------------ takeover
    def reinit_step(self) -> None:
        """Initiate IKEv2 to the nodes taken over from a failed HA, paced (:mod:`.reinit`)."""
        side = self._ha_side
        if side is None:
            return
        if self.state.pacer is None:
            self.state.pacer = reinit.Pacer(
                self.cfg.reinit_concurrency, self.cfg.reinit_rate, self.cfg.reinit_timeout
            )
        pacer = self.state.pacer
        window = dt.timedelta(seconds=self.cfg.reinit_window)
        found = takeover.reinit_targets(self.store, self.fqdn, window)
        pacer.offer([reinit.Target(t.sub_id, t.identity, t.care_of, t.hoas) for t in found])
        ike_id = side.ike_id or side.fqdn
        for act in pacer.step(time.monotonic()):
            t = act.target
            if isinstance(act, reinit.GiveUp):
                REINIT.labels("timeout").inc()
                log.info("vici: %s did not answer at %s; given up", t.identity, t.care_of)
                self.link.terminate({"ike": t.conn}, wait_ms=0)
                self.link.unload_conn(t.conn)
                continue
            self.link.load_conn(reinit.conn(t, side.address, ike_id, side.cert_pem))
            if not self.link.initiate_async(t.conn, profile.current().ha_child):
                REINIT.labels("refused").inc()
            log.info("vici: initiating to %s at %s for HoA %s (taken over)",
                     t.identity, t.care_of, ", ".join(t.hoas))

    async def _sync_radius(self) -> None:
        """Radius mode: new secrets need their NT hash; revoked or moved SAs must go."""
        ver = (await asyncio.to_thread(versions.current, self.store)).get(versions.SUBSCRIBERS, 0)
        if ver == self.state.sub_version:
            return
        self.state.sub_version = ver
        await asyncio.to_thread(self.hub.fill_nt_hashes)
        await asyncio.to_thread(self._terminate_unassigned)

    def _active(self) -> bool:
        return self._ha is None or self._ha.state is domain.HAState.ACTIVE

    def _terminate_unassigned(self) -> None:
        """Terminate SAs whose identity is no longer an active subscriber of this HA."""
        if not self._active():
            return  # draining: drain_step moves them
        sas = [sa for sa in self.link.list_sas() if sa.established]
        allowed = bindings.still_allowed(self.store, self.fqdn, (sa.identity for sa in sas))
        self._execute(drain.unassigned(sas, allowed))

    # ------------------------------------------------------------ drain
    def drain_step(self) -> None:
        """Draining HA: redirect live MNs (RFC 5685) to the HA the store now assigns them,
        terminate those that stay (:func:`.drain.drain_step` decides)."""
        sas = [sa for sa in self.link.list_sas() if sa.established]
        where: dict[str, drain.Assignment] = {}
        if sas:
            found = bindings.assignments(self.store, (sa.identity for sa in sas))
            where = {k: drain.Assignment(a.home_agent, a.address, a.since)
                     for k, a in found.items()}
        timers = drain.DrainTimers(self.cfg.redirect_wait, REDIRECT_GRACE)
        self.state.drain, actions = drain.drain_step(
            self.state.drain, sas, where, self.fqdn, time.monotonic(), dt.datetime.now(dt.UTC),
            timers
        )
        self._execute(actions)

    def _execute(self, actions: tuple[drain.Action, ...]) -> None:
        """Carry out redirect / terminate decisions on charon."""
        for act in actions:
            if isinstance(act, drain.Redirect):
                log.info("vici: redirecting %s (IKE_SA %s) from draining %s to %s (%s)",
                         act.identity, act.uniqueid, self.fqdn, act.home_agent, act.address)
                self.link.redirect(act.uniqueid, act.address)
            else:
                where = f"on draining {self.fqdn} " if act.why is drain.Why.NOT_REDIRECTED else ""
                log.info("vici: terminating IKE_SA %s of %s %s(%s)",
                         act.uniqueid, act.identity, where, act.why.value)
                self.link.terminate({"ike-id": act.uniqueid})

    # ------------------------------------------------------------ charon -> store
    def _reconcile(self) -> None:
        sas = [live_sa(sa) for sa in self.link.list_sas() if sa.established]
        result = bindings.reconcile(self.store, self.fqdn, sas, self.publish_dns)
        if result.opened or result.closed:
            log.info(
                "vici: bindings of %s reconciled: %d opened, %d closed, %d kept",
                self.fqdn, result.opened, result.closed, result.kept,
            )

    @staticmethod
    def _parse(name: Any, msg: Any) -> list[model.SaEvent]:
        try:
            return model.parse_event(name, msg)
        except Exception:  # a peer's message must never stop the bridge
            BAD_EVENTS.inc()
            return []

    def _queued(self) -> bool:
        return self.journal is not None and len(self.journal) > 0

    def _apply_events(self, events: list[model.SaEvent]) -> None:
        now = dt.datetime.now(dt.UTC)
        entries: list[Entry] = [(ev, now) for ev in events]
        if self._queued():  # keep charon's order: behind what already waits
            self._keep(entries)
            return
        for i, ev in enumerate(events):
            try:
                self._apply_event(ev)
            except DBAPIError as exc:
                if self.journal is not None and availability.lost_connection(exc):
                    self._keep(entries[i:])
                    return
                BAD_EVENTS.inc()
                log.warning("vici: could not record %s: %s", type(ev).__name__, exc)
            except Exception as exc:
                BAD_EVENTS.inc()
                log.warning("vici: could not record %s: %s", type(ev).__name__, exc)

    def _keep(self, entries: list[Entry]) -> None:
        """Into the durable queue (fsync'd before this returns)."""
        assert self.journal is not None
        kept = self.journal.append(entries)
        QUEUED.set(len(self.journal))
        FRESHNESS.failed("vici", f"{len(self.journal)} binding events queued")
        if kept < len(entries):
            BAD_EVENTS.inc(len(entries) - kept)
            self._say(f"event queue full ([vici] queue_limit = {self.journal.limit}); bindings"
                      " will be rebuilt from list-sas", logging.WARNING)
        else:
            self._say("store unreachable; charon's binding events are queued", logging.WARNING)

    def _replay(self) -> None:
        """Apply the queue in order; stop at the first lost connection, keep the rest."""
        if self.journal is None or not len(self.journal):
            return
        overflowed = self.journal.overflowed
        done = 0
        try:
            for ev, at in self.journal.pending():
                try:
                    self._apply_event(ev, at)
                except DBAPIError as exc:
                    if availability.lost_connection(exc):
                        return
                    BAD_EVENTS.inc()
                    log.warning("vici: could not record queued %s: %s", type(ev).__name__, exc)
                done += 1
        finally:
            self.journal.done(done)
            QUEUED.set(len(self.journal))
        log.info("vici: %d queued binding events applied%s", done,
                 " (queue had overflowed)" if overflowed else "")
        self._reconcile()
        FRESHNESS.refreshed("vici")
        self._say(f"store reachable again; {done} queued events applied")

    def _apply_event(self, ev: model.SaEvent, at: dt.datetime | None = None) -> None:
        if isinstance(ev, model.SaUp):
            EVENTS.labels("up").inc()
            sa = live_sa(ev.sa)
            sub_id = reinit.sub_id_of(ev.sa.conn)
            if sub_id is not None and self.state.pacer is not None:
                t = self.state.pacer.established(sub_id)
                if t is not None:  # no CFG exchange: the HoA is the child's remote TS
                    REINIT.labels("up").inc()
                    sa = bindings.LiveSa(sa.uniqueid, sa.identity, sa.care_of,
                                         sa.care_of_port, t.hoas)
            b = bindings.sa_up(self.store, self.fqdn, sa, self.publish_dns, at)
            if b is None:
                log.info("vici: IKE_SA %s of %r is up but names no subscriber with a HoA",
                         ev.sa.uniqueid, ev.sa.identity)
        elif isinstance(ev, model.SaDown):
            EVENTS.labels("down").inc()
            bindings.sa_down(self.store, self.fqdn, ev.sa.uniqueid, self.publish_dns, at)
            self.state.drain = self.state.drain.forget(ev.sa.uniqueid)
        elif isinstance(ev, model.SaRekeyed):
            EVENTS.labels("rekey").inc()
            bindings.sa_rekeyed(self.store, self.fqdn, ev.old_uniqueid, ev.new.uniqueid)
        elif isinstance(ev, model.SaMoved):
            EVENTS.labels("move").inc()
            bindings.sa_moved(self.store, self.fqdn, ev.uniqueid, ev.remote_host,
                              ev.remote_port)

    # ------------------------------------------------------------ home link
    def _sync_proxies(self, connected: bool) -> None:
        """Proxy entries on the home interface := HoAs of the open bindings (none if charon
        is gone).  Failures are logged once per state change, never fatal."""
        if self.proxies is None:
            return
        try:
            link = bindings.home_link(self.store, self.fqdn)
            self._proxy_ranges = tuple(ipaddress.ip_network(r) for r in link.networks)
            want = proxy.parse_addresses(link.addresses) if connected else frozenset()
            if want and not self._proxy_enabled:
                failed = self.proxies.enable()
                self._proxy_enabled = True
                if failed:
                    log.warning("vici: could not set %s to 1; set it as the operator",
                                ", ".join(failed))
            todo = proxy.plan_proxies(want, self.proxies.current(), self._proxy_ranges)
            self.proxies.apply(todo)
        except (ProxyError, OSError) as exc:
            self._say(f"home link proxies on {self.proxies.ifname} not set: {exc}",
                      logging.WARNING)
            return
        except DBAPIError:
            return  # the store is away: keep what is there, the next poll retries
        except NotFound:
            return  # this HA is not in the store (yet): nothing is ours
        for addr in todo.add:
            log.info("vici: answering for %s on %s (proxy %s)", addr, self.proxies.ifname,
                     "ND" if addr.version == 6 else "ARP")
        for addr in todo.remove:
            log.info("vici: no longer answering for %s on %s", addr, self.proxies.ifname)
        PROXY_CHANGES.labels("add").inc(len(todo.add))
        PROXY_CHANGES.labels("remove").inc(len(todo.remove))
        PROXIES.set(len(want))

    def _heartbeat(self) -> None:
        try:
            self.link.ping()
        except (OSError, *ViciError):
            return
        try:
            home_agents.heartbeat(
                self.store, self.fqdn, failure_timeout=self.cfg.failure_timeout
            )
        except DBAPIError as exc:
            if availability.lost_connection(exc):
                FRESHNESS.failed("vici", "store unreachable")
                return  # said once by the poll
            self._say(f"cannot write heartbeat of {self.fqdn}: {exc}", logging.WARNING)
        except Exception as exc:
            self._say(f"cannot write heartbeat of {self.fqdn}: {exc}", logging.WARNING)
