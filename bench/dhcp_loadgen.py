"""DHCPv6 Information-request load generator for bench/dhcp6.py (stdlib only, one thread).

Runs inside the client network namespace.  Sends a template request to
ff02::1:2 at a paced rate (open loop), each with a fresh 24-bit transaction id
and a client DUID whose last three octets cycle over ``--clients`` values;
matches replies by transaction id; a request unanswered after ``--timeout``
seconds is lost.  Prints one JSON object: sent, received, loss %, latency
percentiles (ms, measured here, so they include this process's scheduling),
reply sizes and this process's CPU share.
"""

from __future__ import annotations

import argparse
import json
import resource
import select
import socket
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--template", required=True, help="hex file: the request to send")
    ap.add_argument("--duid-end", type=int, default=17, help="offset of the DUID's last octet")
    ap.add_argument("--iface", required=True)
    ap.add_argument("--rate", type=float, required=True, help="requests per second")
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--timeout", type=float, default=1.0)
    ap.add_argument("--clients", type=int, default=10000)
    a = ap.parse_args()

    template = bytearray(bytes.fromhex(Path(a.template).read_text().strip()))
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    index = socket.if_nametoindex(a.iface)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
    sock.bind(("::", 546))
    sock.setblocking(False)
    dest = ("ff02::1:2", 547, 0, index)

    clock = time.perf_counter_ns
    pending: dict[int, int] = {}
    latencies: list[int] = []
    sizes: dict[int, int] = {}
    sent = received = lost = send_errors = 0
    xid = 0
    de = a.duid_end
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    start = clock()
    stop_sending = start + int(a.duration * 1e9)
    timeout = int(a.timeout * 1e9)
    last_expiry = start
    while True:
        now = clock()
        sending = now < stop_sending
        if sending:
            due = int((now - start) * a.rate / 1e9) - sent - send_errors
            for _ in range(min(due, 512)):
                xid = (xid + 1) & 0xFFFFFF
                client = xid % a.clients
                template[1:4] = xid.to_bytes(3, "big")
                template[de - 2 : de + 1] = client.to_bytes(3, "big")
                try:
                    sock.sendto(template, dest)
                except (BlockingIOError, OSError):
                    send_errors += 1
                    continue
                pending[xid] = now
                sent += 1
        elif not pending:
            break
        while True:
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                break
            t = clock()
            if len(data) < 4:
                continue
            t0 = pending.pop(int.from_bytes(data[1:4], "big"), None)
            if t0 is None:
                continue
            received += 1
            latencies.append(t - t0)
            sizes[len(data)] = sizes.get(len(data), 0) + 1
        if now - last_expiry > 50_000_000 or not sending:
            last_expiry = now
            old = [k for k, v in pending.items() if now - v > timeout]
            for k in old:
                del pending[k]
            lost += len(old)
        if sending:
            batch = max(1, int(a.rate / 1000))
            wake = start + int((sent + send_errors + batch) * 1e9 / a.rate)
            wait = (wake - clock()) / 1e9
            if wait > 0.00005:
                select.select([sock], [], [], min(wait, 0.005))
        else:
            select.select([sock], [], [], 0.01)
    elapsed = (clock() - start) / 1e9
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    latencies.sort()
    n = len(latencies)

    def pct(p: float) -> float | None:
        return round(latencies[min(n - 1, int(p * n))] / 1e6, 3) if n else None

    print(
        json.dumps(
            {
                "rate": a.rate,
                "sent": sent,
                "received": received,
                "lost": sent - received,
                "send_errors": send_errors,
                "loss_pct": round(100 * (sent - received) / sent, 4) if sent else None,
                "p50_ms": pct(0.5),
                "p99_ms": pct(0.99),
                "max_ms": round(latencies[-1] / 1e6, 3) if n else None,
                "reply_sizes": sizes,
                "gen_cpu_pct": round(100 * cpu / elapsed, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
