"""Fuzz the DHCP sockets of a running ``bootstrapd --only dhcp`` (issue 14 acceptance).

Structural mutations (bit flips, byte sets, truncation, insertion, length
fields set to 0 / 0xffff / option codes, self-duplication) of the
Kea-captured request vectors in tests/data/dhcp are sent to the DHCPv6 and
DHCPv4 sockets on loopback, a valid request (unique transaction id)
interleaved every ``--every`` datagrams.  Checked, and printed:

* every valid request is answered (its transaction id comes back);
* no reply to a datagram our decoder refuses (MalformedPacket); a reply to a
  mutated datagram that still decodes is counted, not an error;
* bootstrapd's RSS (VmRSS from /proc) after warm-up and at the end.

``python bench/dhcp_fuzz.py --count 100000`` (about a minute); the suite's
shorter run is tests/system/dhcp/test_dhcp_fuzz_sockets.py.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bootstrap import migrate  # noqa: E402
from bootstrap.services import home_agents, networks  # noqa: E402
from bootstrap.services.actor import Actor  # noqa: E402
from bootstrap.store.engine import Store  # noqa: E402
from dhcp_hinfo import wire4, wire6  # noqa: E402
from dhcp_hinfo.wire6 import MalformedPacket  # noqa: E402

VECTORS = ROOT / "tests" / "data" / "dhcp"
ACTOR = Actor("bench", "cli")
LENGTHS = [b"\x00\x00", b"\xff\xff", b"\x00\x31", b"\x00\x09", b"\x00\x42", b"\x0c\x00"]


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(6)
        if choice == 0 and b:
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        elif choice == 1 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif choice == 2 and b:
            del b[rng.randrange(len(b)):]
        elif choice == 3:
            pos = rng.randrange(len(b) + 1)
            b[pos:pos] = rng.randbytes(rng.randint(1, 8))
        elif choice == 4 and len(b) > 6:
            pos = rng.randrange(len(b) - 1)
            b[pos:pos + 2] = rng.choice(LENGTHS)
        else:
            pos = rng.randrange(len(b) + 1)
            b[pos:pos] = b[: rng.randrange(len(b) + 1)]
    return bytes(b)


def malformed(data: bytes, six: bool) -> bool:
    try:
        wire6.decode_message(data) if six else wire4.decode(data)
    except MalformedPacket:
        return True
    return False


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def with_xid6(data: bytes, xid: int) -> bytes:
    """A transaction id, or for a Relay-Forward (no xid) a peer-address made of it."""
    if data[:1] == b"\x0c" and len(data) >= 34:
        return data[:18] + xid.to_bytes(16, "big") + data[34:]
    return data[:1] + xid.to_bytes(3, "big") + data[4:]


def key6(data: bytes) -> int | None:
    """What a reply shares with its request: the xid, or a relay message's peer-address."""
    if data[:1] in (b"\x0c", b"\x0d"):
        return int.from_bytes(data[18:34], "big") if len(data) >= 34 else None
    return int.from_bytes(data[1:4], "big") if len(data) >= 4 else None


def with_xid4(data: bytes, xid: int) -> bytes:
    return data[:4] + xid.to_bytes(4, "big") + data[8:]


def run(count: int, every: int, seed: int, port: int, out: Path) -> dict[str, int]:
    tmp = Path(tempfile.mkdtemp(prefix="mipi-fuzz-"))
    url = f"sqlite:///{tmp / 'store.db'}"
    store = Store(url)
    migrate.upgrade(store)
    networks.add(store, ACTOR, "home.example", "2001:db8:200::/64")
    home_agents.add(store, ACTOR, "ha.home.example", "home.example", "2001:db8:200::1",
                    ipv4="192.0.2.10")
    store.dispose()
    s6, c6, s4, c4 = port, port + 1, port + 2, port + 3
    cfg = tmp / "bootstrap.toml"
    cfg.write_text(
        f'[database]\nurl = "{url}"\n'
        f'[dhcp6]\nenabled = true\nlisten = "[::1]:{s6}"\nallow_unicast = true\n'
        f'reply_port = {c6}\nrate_limit = 0.0\n'
        f'[dhcp4]\nenabled = true\nlisten = "127.0.0.1:{s4}"\nclient_port = {c4}\n'
        f'rate_limit = 0.0\n'
    )
    rng = random.Random(seed)
    seeds6 = [bytes.fromhex(f.read_text().strip()) for f in sorted(VECTORS.glob("v6-*request.hex"))]
    seeds4 = [bytes.fromhex(f.read_text().strip()) for f in sorted(VECTORS.glob("v4-*request.hex"))]
    valid6 = bytes.fromhex((VECTORS / "v6-direct-request.hex").read_text().strip())
    valid4 = bytearray(bytes.fromhex((VECTORS / "v4-inform-prl1-3-68-request.hex")
                                     .read_text().strip()))
    valid4[12:16] = socket.inet_aton("127.0.0.1")  # ciaddr: the address it comes from
    log = open(out, "wb")  # noqa: SIM115 (closed in finally)
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "bootstrapd"), "--config", str(cfg),
                             "--only", "dhcp"], stdout=log, stderr=subprocess.STDOUT)
    sock6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stats = {"sent": 0, "malformed": 0, "valid": 0, "valid_answered": 0,
             "replies_to_malformed": 0, "replies_to_mutated_valid": 0,
             "valid_answered6": 0, "valid_answered4": 0}
    try:
        sock6.bind(("::1", c6))
        sock4.bind(("127.0.0.1", c4))
        deadline = time.monotonic() + 60
        while b"DHCPv4" not in out.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("bootstrapd did not start: " + out.read_text()[-2000:])
            time.sleep(0.1)
        sent: dict[tuple[bool, int], bool] = {}  # (six, xid) -> malformed
        rss_warm = 0
        next_xid = 0x100000

        def drain(wait: float) -> None:
            """Read replies until the valid requests are answered or ``wait`` s passed."""
            end = time.monotonic() + wait
            while True:
                left = end - time.monotonic()
                if not pending and left < wait - 0.005:
                    left = 0.0
                ready, _, _ = select.select([sock6, sock4], [], [], max(left, 0))
                if not ready:
                    return
                for s in ready:
                    data = s.recv(65535)
                    six = s is sock6
                    xid = key6(data) if six else int.from_bytes(data[4:8], "big")
                    key = (six, xid or 0)
                    if key in pending:
                        pending.discard(key)
                        stats["valid_answered"] += 1
                        stats["valid_answered6" if six else "valid_answered4"] += 1
                    elif sent.get(key):
                        stats["replies_to_malformed"] += 1
                        if key in kept:
                            print(f"  reply to malformed {'v6' if six else 'v4'} datagram:"
                                  f" {kept[key].hex()}", flush=True)
                    else:
                        stats["replies_to_mutated_valid"] += 1

        pending: set[tuple[bool, int]] = set()
        kept: dict[tuple[bool, int], bytes] = {}
        for i in range(count):
            six = i % 4 != 3
            seed_data = rng.choice(seeds6 if six else seeds4)
            uniq = 0x800000 + i  # its own transaction id, so a reply says which datagram it is
            seed_data = with_xid6(seed_data, uniq & 0xFFFFFF) if six else with_xid4(seed_data, uniq)
            data = mutate(rng, seed_data)
            bad = malformed(data, six)
            stats["malformed"] += bad
            got = key6(data) if six else (int.from_bytes(data[4:8], "big")
                                          if len(data) >= 8 else None)
            if got is not None:
                xid = got
                # a reply names a transaction id: it is "to a malformed datagram" only when
                # every datagram sent with that id was malformed (a mutation may hit the id)
                sent[(six, xid)] = sent.get((six, xid), True) and bad
                if bad:
                    kept[(six, xid)] = data
            (sock6.sendto(data, ("::1", s6)) if six else sock4.sendto(data, ("127.0.0.1", s4)))
            stats["sent"] += 1
            if i % every == every - 1:
                next_xid += 1
                for v6 in (True, False):
                    xid = next_xid & (0xFFFFFF if v6 else 0xFFFFFFFF)
                    pending.add((v6, xid))
                    stats["valid"] += 1
                    if v6:
                        sock6.sendto(with_xid6(valid6, xid), ("::1", s6))
                    else:
                        sock4.sendto(with_xid4(bytes(valid4), xid), ("127.0.0.1", s4))
                drain(1.0)
            if i % 10_000 == 9_999:
                print(f"  {i + 1:,} sent: valid answered {stats['valid_answered']:,}/"
                      f"{stats['valid']:,}, replies to malformed {stats['replies_to_malformed']},"
                      f" RSS {rss_kib(proc.pid):,} KiB", flush=True)
            if i == min(10_000, count // 5):
                rss_warm = rss_kib(proc.pid)
        drain(2.0)
        stats["rss_warm_kib"] = rss_warm
        stats["rss_end_kib"] = rss_kib(proc.pid)
        stats["valid_unanswered"] = len(pending)
        return stats
    finally:
        sock6.close()
        sock4.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()
        with contextlib.suppress(OSError):
            for f in tmp.iterdir():
                f.unlink()
            tmp.rmdir()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--every", type=int, default=50, help="a valid request pair every N")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--port", type=int, default=15480 + os.getpid() % 400 * 4)
    args = ap.parse_args()
    t0 = time.monotonic()
    out = Path(tempfile.mkstemp(prefix="mipi-fuzz-", suffix=".log")[1])
    stats = run(args.count, args.every, args.seed, args.port, out)
    took = time.monotonic() - t0
    print(f"dhcp fuzz: {stats['sent']:,} mutated datagrams ({stats['malformed']:,} malformed)"
          f" + {stats['valid']:,} valid requests in {took:.0f} s")
    print(f"  valid answered {stats['valid_answered']:,}/{stats['valid']:,};"
          f" replies to malformed {stats['replies_to_malformed']};"
          f" replies to mutated but decodable {stats['replies_to_mutated_valid']:,}")
    print(f"  bootstrapd RSS after warm-up {stats['rss_warm_kib']:,} KiB,"
          f" at the end {stats['rss_end_kib']:,} KiB")
    ok = (stats["valid_unanswered"] == 0 and stats["replies_to_malformed"] == 0
          and stats["rss_end_kib"] <= stats["rss_warm_kib"] * 1.1 + 2048)
    print("  OK" if ok else "  FAILED")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
