"""A real SMTP server for the mail benchmark: aiosmtpd on 127.0.0.1, counting what it accepts.

python -m bench.smtp_sink PORT      # prints "ready"; on SIGTERM prints {"received": N} and exits
"""

from __future__ import annotations

import json
import signal
import sys

from aiosmtpd.controller import Controller


class Counting:
    """Accepts every message and counts its recipients (nothing is stored)."""

    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.received += len(envelope.rcpt_tos)
        return "250 Message accepted for delivery"


def main(port: int) -> None:
    handler = Counting()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM})
    controller.stop()
    print(json.dumps({"received": handler.received}), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
