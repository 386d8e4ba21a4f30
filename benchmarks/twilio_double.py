"""A stand-in for Twilio in fault runs: signed webhooks, the fallback URL, TwiML read as XML.

Each request goes on a fresh loopback connection, as Twilio's often do, so a failure means the
request itself got no answer (never a kept-alive connection that a server closed while idle).
When a voice request gets no answer within Twilio's 15 s, or an HTTP error, Twilio requests the
number's fallback URL with the same form plus ``ErrorCode`` and ``ErrorUrl``, and the caller
hears what the fallback answers; status callbacks are never retried and have no fallback.

``worker_of`` names the gunicorn worker process that accepted a connection (from ``/proc``).
On an idle server one worker accepts nearly every new connection (it is the first to wake), so
``connect_to`` places a connection on a chosen worker: the others are paused (SIGSTOP) for the
milliseconds it takes that worker to accept it. A fault run can then put requests on one worker
and kill it, or send retries of one step to every worker at once.
"""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from benchmarks.routing_webhooks import ACCOUNT, TOKEN, sign
from finder.calls.routing import SAMHSA_HELPLINE

#: Twilio waits this long for a webhook before it turns to the fallback URL.
TWILIO_TIMEOUT = 15.0
FALLBACK_PATH = "/voice/fallback"
#: Twilio's error code for a webhook that failed (HTTP retrieval failure).
HTTP_RETRIEVAL_FAILURE = "11200"


@dataclass
class Exchange:
    """One request and what came back (``status`` None: no answer at all)."""

    endpoint: str
    sent: float  #: time.monotonic() when sent
    ms: float
    status: int | None
    body: str
    error: str | None = None
    worker: int | None = None  #: the gunicorn worker that accepted the connection, if asked
    fallback: Exchange | None = None  #: Twilio's request to the fallback URL after a failure

    @property
    def done(self) -> float:
        return self.sent + self.ms / 1000

    @property
    def failed(self) -> bool:
        return self.status is None or self.status >= 400

    @property
    def heard(self) -> str:
        """The TwiML the caller went on with: the answer, or the fallback's after a failure."""
        return self.fallback.body if self.fallback is not None else self.body


class Twilio:
    """Posts signed webhooks to the app on ``127.0.0.1:port``; keeps every exchange."""

    def __init__(self, port: int, token: str = TOKEN, timeout: float = TWILIO_TIMEOUT) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.token = token
        self.timeout = timeout
        self.exchanges: list[Exchange] = []
        self._guard = threading.Lock()

    def connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        conn.connect()
        return conn

    def request(self, path: str, params: dict, conn: http.client.HTTPConnection | None = None,
                worker: int | None = None) -> Exchange:
        """One signed POST (on ``conn``, else a fresh connection), timed; never raises."""
        endpoint = path.split("?")[0].rsplit("/", 1)[-1]
        sent = time.monotonic()
        status, body, error = None, "", None
        try:
            conn = conn or self.connect()
            conn.request("POST", path, urlencode(params), sign(self.base + path, params,
                                                              self.token))
            response = conn.getresponse()
            status, body = response.status, response.read().decode()
        except (OSError, http.client.HTTPException) as exc:  # reset, refused, timed out
            error = f"{type(exc).__name__}: {exc}"
        finally:
            if conn is not None:
                conn.close()
        exchange = Exchange(endpoint, sent, (time.monotonic() - sent) * 1000, status, body,
                            error, worker)
        with self._guard:
            self.exchanges.append(exchange)
        return exchange

    def webhook(self, path: str, params: dict, conn: http.client.HTTPConnection | None = None,
                worker: int | None = None) -> Exchange:
        """A voice request; on failure Twilio's request to the fallback URL follows."""
        exchange = self.request(path, params, conn, worker)
        if exchange.failed:
            exchange.fallback = self.request(FALLBACK_PATH, {
                **params, "ErrorCode": HTTP_RETRIEVAL_FAILURE, "ErrorUrl": self.base + path})
        return exchange


def call_params(call_sid: str, caller: str, to: str, **extra: str) -> dict:
    return {"CallSid": call_sid, "AccountSid": ACCOUNT, "From": caller, "To": to,
            "Direction": "inbound", "ApiVersion": "2010-04-01", "CallStatus": "ringing",
            **extra}


# -- TwiML ------------------------------------------------------------------------------------

def parse(body: str) -> ET.Element | None:
    """The <Response> element, or None when the body is not TwiML."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    return root if root.tag == "Response" else None


def dialled(body: str) -> tuple[str, str | None] | None:
    """(number, <Dial action>) of the TwiML's first <Dial>, or None."""
    root = parse(body)
    dial = root.find("Dial") if root is not None else None
    if dial is None:
        return None
    number = dial.find("Number")
    text = number.text if number is not None else dial.text
    return (text or "").strip(), dial.get("action")


def connects_to_samhsa(body: str) -> bool:
    """TwiML that dials the SAMHSA National Helpline."""
    dial = dialled(body)
    return dial is not None and dial[0] == SAMHSA_HELPLINE


# -- which worker holds a connection ----------------------------------------------------------

def workers(master_pid: int) -> list[int]:
    """The gunicorn master's worker processes."""
    try:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text()
    except OSError:
        return []
    return [int(pid) for pid in children.split()]


def _server_socket_inode(server_port: int, client_port: int) -> int | None:
    """The inode of the server side of the loopback connection from ``client_port``."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], int(fields[9])
        if (int(local.split(":")[1], 16) == server_port
                and int(remote.split(":")[1], 16) == client_port and inode):
            return inode
    return None


def worker_of(conn: http.client.HTTPConnection, master_pid: int, server_port: int,
              wait: float = 5.0) -> int | None:
    """The worker that accepted ``conn`` (None if none did within ``wait`` seconds)."""
    client_port = conn.sock.getsockname()[1]
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        inode = _server_socket_inode(server_port, client_port)
        if inode is not None:
            target = f"socket:[{inode}]"
            for pid in workers(master_pid):
                try:
                    fds = os.listdir(f"/proc/{pid}/fd")
                except OSError:
                    continue
                for fd in fds:
                    try:
                        if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                            return pid
                    except OSError:
                        continue
        time.sleep(0.01)
    return None


def connect_to(twilio: Twilio, master_pid: int, server_port: int,
               worker: int) -> http.client.HTTPConnection:
    """A fresh connection accepted by ``worker`` (the other workers paused meanwhile)."""
    for _ in range(5):
        others = [pid for pid in workers(master_pid) if pid != worker]
        for pid in others:
            os.kill(pid, signal.SIGSTOP)
        try:
            conn = twilio.connect()
            owner = worker_of(conn, master_pid, server_port)
        finally:
            for pid in others:
                os.kill(pid, signal.SIGCONT)
        if owner == worker:
            return conn
        conn.close()  # another worker was still running when the connection came
    raise RuntimeError(f"worker {worker} did not accept a connection")
