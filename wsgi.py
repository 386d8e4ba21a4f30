"""WSGI entry point: ``gunicorn wsgi:app``."""

from finder import create_app

app = create_app()
