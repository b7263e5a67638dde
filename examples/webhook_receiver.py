"""A webhook receiver: checks each delivery's X-Layers-Signature with layers_partner.webhooks.verify and
prints one line per event (`<event id> <type> signature ok <data>`); a bad one is answered 400.

    python examples/webhook_receiver.py --port 9000 --secret whsec_…

With --register it creates its own endpoint (http://127.0.0.1:<port>/hooks, which `layers dev` accepts)
and uses that endpoint's secret, deleting the endpoint when it stops; --send-test then asks the API for a
test.ping. --max-events N stops after N good deliveries. Exit status: 0, 1 the API failed, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import layers_partner as lp
from layers_partner import webhooks

MAX_BODY_BYTES = 1 << 20
EVENTS = ["job.completed", "job.failed", "job.canceled", "content.generated", "test.ping"]


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=9000, help="loopback port to listen on (9000)")
    parser.add_argument("--secret", action="append", default=[], help="a signing secret (repeat during a rotation)")
    parser.add_argument("--register", action="store_true", help="create an endpoint for this receiver")
    parser.add_argument("--send-test", action="store_true", help="with --register: have a test.ping sent")
    parser.add_argument("--events", default=",".join(EVENTS), help="with --register: event types to receive")
    parser.add_argument("--max-events", type=int, default=0, help="stop after this many good deliveries (0: never)")
    parser.add_argument("--base-url", default=os.environ.get("LAYERS_BASE_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--api-key", default=os.environ.get("LAYERS_API_KEY"), help="default: $LAYERS_API_KEY")
    args = parser.parse_args(argv)
    if os.environ.get("LAYERS_WEBHOOK_SECRET"):
        args.secret.append(os.environ["LAYERS_WEBHOOK_SECRET"])
    if not 0 <= args.port <= 65535 or args.max_events < 0:
        parser.error("--port must be 0-65535 and --max-events at least 0")
    if args.register and not args.api_key:
        parser.error("--register needs an API key (--api-key or LAYERS_API_KEY)")
    if args.send_test and not args.register:
        parser.error("--send-test needs --register")
    if not args.register and not args.secret:
        parser.error("need --secret (or LAYERS_WEBHOOK_SECRET), or --register")
    return args


class Receiver(ThreadingHTTPServer):
    def __init__(self, port: int, secrets: list[str], max_events: int) -> None:
        super().__init__(("127.0.0.1", port), Hook)
        self.secrets = secrets
        self.max_events = max_events
        self.good = 0
        self.lock = threading.Lock()
        self.done = threading.Event()


class Hook(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._answer(413)
            return
        body = self.rfile.read(length)
        try:
            event = webhooks.verify(body, self.headers.get("X-Layers-Signature"), self.server.secrets)
        except lp.WebhookVerificationError as exc:
            print(f"{self.headers.get('X-Layers-Event-Id')} BAD SIGNATURE: {exc}", flush=True)
            self._answer(400)
            return
        self._answer(200)
        print(f"{event.id} {event.type} signature ok {json.dumps(event.data)}", flush=True)
        with self.server.lock:
            self.server.good += 1
            if self.server.max_events and self.server.good >= self.server.max_events:
                self.server.done.set()

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    receiver = Receiver(args.port, list(args.secret), args.max_events)
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks"
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    print(f"listening on {url}", flush=True)
    layers = lp.Client(args.api_key, base_url=args.base_url) if args.register else None
    endpoint_id = None
    try:
        if layers is not None:
            created = layers.webhooks.create(url, args.events.split(","), description="examples/webhook_receiver.py")
            endpoint_id = created.endpoint.endpoint_id
            receiver.secrets.append(created.signing_secret)
            print(f"registered {endpoint_id}", flush=True)
            if args.send_test:
                layers.webhooks.test(endpoint_id)
        while not receiver.done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    except lp.LayersError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    finally:
        receiver.shutdown()
        if layers is not None:
            if endpoint_id is not None:
                layers.webhooks.delete(endpoint_id)
            layers.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
