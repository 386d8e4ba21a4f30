"""WSGI entry point: ``gunicorn wsgi:app``."""

import faulthandler

from finder import create_app

# A crash inside a C extension (a worker "was sent SIGSEGV") then leaves each thread's Python
# stack on stderr, in gunicorn's error log, instead of nothing.
faulthandler.enable()

app = create_app()
