"""The files in deploy/: gunicorn's logs keep caller numbers out, the nginx example matches the
app, and deploy/check_signature.py tells a working signature setup from a broken one."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

import pytest

import finder
from config import Config
from finder.calls.twiml import FALLBACK_TWIML

ROOT = finder.ROOT
NGINX_SITE = ROOT / "deploy" / "nginx" / "finder.conf"
TOKEN = "deploy-test-twilio-token"
#: Fictional (555-01XX); it must never reach a log.
CALLER = "+12145550142"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(port: int, path: str, method: str = "GET", body: str | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        conn.request(method, path, body=body, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    """gunicorn with deploy/gunicorn.conf.py (one worker) on a loopback port, and its log file."""
    workdir = tmp_path_factory.mktemp("gunicorn")
    log_path = workdir / "gunicorn.log"
    port = _free_port()
    env = {**os.environ, "FINDER_ENV": "development", "FLASK_DEBUG": "0",
           "DATABASE_URL": f"sqlite:///{workdir / 'empty.sqlite3'}", "TWILIO_AUTH_TOKEN": TOKEN,
           "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "2", "GUNICORN_BIND": f"127.0.0.1:{port}"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                if _get(port, "/healthz") == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        yield port, log_path
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_logs_hold_paths_but_no_caller_number_or_query(gunicorn):
    port, log_path = gunicorn
    number = urllib.parse.quote(CALLER)
    # Unsigned, so refused (403) and logged as a warning too, before anything reads the body.
    assert _get(port, f"/voice/incoming?From={number}", "POST",
                f"CallSid=CA1&From={number}&To=%2B18005550199") == 403
    assert _get(port, f"/voice/fallback?From={number}&CallSid=CA2") == 403
    assert _get(port, "/healthz?q=1600+Pennsylvania+Ave") == 200
    expected = ['"POST /voice/incoming" 403', '"GET /voice/fallback" 403',
                "Refused a voice webhook with a bad signature: POST /voice/incoming"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # each line is written once its request is answered
        log = log_path.read_text()
        if all(line in log for line in expected) and log.count('"GET /healthz" 200') >= 2:
            break
        time.sleep(0.1)
    assert all(line in log for line in expected), log
    assert "5550142" not in log
    assert "Pennsylvania" not in log


def _check_signature(port: int, token: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "check_signature.py"), f"http://127.0.0.1:{port}"],
        env={**os.environ, "TWILIO_AUTH_TOKEN": token}, cwd=ROOT / "deploy",
        capture_output=True, text=True, timeout=60)


def test_check_signature_passes_with_the_right_token(gunicorn):
    result = _check_signature(gunicorn[0], TOKEN)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK:")


def test_check_signature_fails_when_the_app_rejects_the_signature(gunicorn):
    result = _check_signature(gunicorn[0], "not-the-token")
    assert result.returncode == 1
    assert "FAIL: signed POST" in result.stdout and "answered 403" in result.stdout


def test_nginx_answers_the_apps_own_fallback():
    quoted = re.search(r"location @voice_fallback \{.*?return 200 '((?:[^'\\]|\\.)*)';",
                       NGINX_SITE.read_text(), re.S)
    assert quoted, "deploy/nginx/finder.conf has no @voice_fallback returning TwiML"
    assert re.sub(r"\\(.)", r"\1", quoted.group(1)) == FALLBACK_TWIML


def test_nginx_accepts_the_largest_import():
    size = re.search(r"client_max_body_size (\d+)m;", NGINX_SITE.read_text())
    assert int(size.group(1)) * 1024 * 1024 == Config.IMPORT_MAX_BYTES



def test_gunicorn_refuses_to_start_without_production_secrets(tmp_path):
    env = {name: value for name, value in os.environ.items()
           if name not in {"SECRET_KEY", "TWILIO_AUTH_TOKEN", "CALLER_HASH_KEY",
                           "CALLBACK_ENCRYPTION_KEY"}}
    env.update(FINDER_ENV="production", DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}",
               GUNICORN_BIND=f"127.0.0.1:{_free_port()}")
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert ("Production refuses to start: SECRET_KEY, TWILIO_AUTH_TOKEN, CALLER_HASH_KEY, "
            "CALLBACK_ENCRYPTION_KEY not set") in result.stderr
    assert "Booting worker" not in result.stderr
