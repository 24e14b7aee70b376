"""Send one UDP datagram and print the first answer as hex (run inside a test's netns).

Usage: udp_probe.py FAMILY BIND_ADDR BIND_PORT DEST_ADDR DEST_PORT HEX [TIMEOUT]
Prints the reply payload in hex, or nothing when none came within TIMEOUT seconds.
"""

from __future__ import annotations

import socket
import sys


def main() -> None:
    family, bind_addr, bind_port, dest, dest_port, payload = sys.argv[1:7]
    timeout = float(sys.argv[7]) if len(sys.argv) > 7 else 2.0
    af = socket.AF_INET6 if family == "6" else socket.AF_INET
    with socket.socket(af, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((bind_addr, int(bind_port)))
        sock.settimeout(timeout)
        sock.sendto(bytes.fromhex(payload), (dest, int(dest_port)))
        try:
            data, _ = sock.recvfrom(65535)
        except TimeoutError:
            return
        print(data.hex())


if __name__ == "__main__":
    main()
