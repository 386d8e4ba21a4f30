"""gunicorn settings for production: ``gunicorn --config deploy/gunicorn.conf.py wsgi:app``.

Each value can be changed from the environment (see docs/deployment.md). Like ``flask``
commands, this reads a ``.env`` file in the working directory, without overriding variables
already set, so ``flask db upgrade`` and the web processes see the same settings.
"""

import importlib.util
import os
import sys
from pathlib import Path

try:
    from dotenv import load_dotenv
except ImportError:  # python-dotenv is a dependency; without it only the environment counts
    pass
else:
    load_dotenv(Path.cwd() / ".env", override=False)


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


proc_name = "finder"
#: Loopback by default: the TLS reverse proxy is the only client. A unix socket works too
#: (GUNICORN_BIND=unix:/run/finder/gunicorn.sock, with RuntimeDirectory=finder in the systemd
#: unit and that path in nginx's upstream).
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")

#: Processes. Each holds its own SQLAlchemy pool (up to 15 connections), so keep
#: workers x threads well under PostgreSQL's max_connections (100 by default).
workers = _int("WEB_CONCURRENCY", 4)
#: Threads per process: a webhook mostly waits on the database, so threads overlap that wait.
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 8)

#: With gthread workers this is a heartbeat, not a request limit: a process whose main loop
#: has not reported for this long is killed and replaced. Twilio gives a webhook 15 s before
#: it turns to the fallback URL, so a request's own time is bounded where it waits: the
#: database (connect_timeout and statement_timeout in DATABASE_URL, see the guide).
timeout = _int("GUNICORN_TIMEOUT", 20)
#: On restart or stop (HUP, TERM), a process finishes its requests for up to this long.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5
#: Replace each process after this many requests (spread by the jitter) to bound slow leaks.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10
#: The heartbeat file lives in memory: a slow disk must not look like a stuck worker.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

#: No control socket ($HOME/.gunicorn/gunicorn.ctl, shared by every gunicorn of one user):
#: systemd's reload and stop send the signals instead.
control_socket_disable = True

#: Addresses whose X-Forwarded-Proto gunicorn trusts (the app itself uses PROXY_FIX_HOPS).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

#: Access log on stdout, error log on stderr (journald or the container runtime keeps both).
accesslog = "-"
errorlog = "-"
#: Method, path *without* its query string, status, bytes, milliseconds, user agent. Never a
#: body, query string or referrer: Twilio sends the caller's number in a webhook's form body
#: (and in the query string when a number is set to GET), and searches carry the place typed.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms "%(a)s"'
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
#: finder's own messages (webhook fallbacks, refused signatures) join gunicorn's error log,
#: with the same time stamp and process id.
logconfig_dict = {
    "root": {"level": "WARNING", "handlers": ["error_console"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["error_console"],
                           "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access_console"],
                            "propagate": False},
        "finder": {"level": loglevel.upper(), "handlers": ["error_console"],
                   "propagate": False},
    },
    "handlers": {
        "access_console": {"class": "logging.StreamHandler", "formatter": "access",
                           "stream": "ext://sys.stdout"},
        "error_console": {"class": "logging.StreamHandler", "formatter": "generic",
                          "stream": "ext://sys.stderr"},
    },
    "formatters": {
        "access": {"format": "%(asctime)s [%(process)d] %(message)s",
                   "datefmt": "[%Y-%m-%d %H:%M:%S %z]"},
        "generic": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s",
                    "datefmt": "[%Y-%m-%d %H:%M:%S %z]"},
    },
}


def on_starting(server):
    """Refuse to start, before any worker is forked, when production settings are unsafe."""
    # config.py is loaded under a private name: were it imported as ``config`` here, workers
    # forked after a reload (HUP) would inherit this copy instead of reading the new file.
    spec = importlib.util.spec_from_file_location(
        "_finder_settings_check", Path(__file__).resolve().parent.parent / "config.py")
    settings = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(settings)
    config_class = settings.CONFIGS.get(os.environ.get("FINDER_ENV", "development"))
    if config_class is None:
        server.log.error("FINDER_ENV must be one of: %s", ", ".join(settings.CONFIGS))
        sys.exit(1)
    try:
        if hasattr(config_class, "check"):
            config_class.check()
    except RuntimeError as error:
        server.log.error("%s", error)
        sys.exit(1)
