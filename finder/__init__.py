"""finder: a treatment-center directory with honest, auditable call routing."""

import os
from pathlib import Path

from flask import Flask

from config import CONFIGS, INSTANCE_DIR

ROOT = Path(__file__).resolve().parent.parent


def create_app(config_name: str | None = None, test_config: dict | None = None) -> Flask:
    """Build the application. ``config_name`` defaults to ``$FINDER_ENV`` (development)."""
    config_name = config_name or os.environ.get("FINDER_ENV", "development")
    config_class = CONFIGS[config_name]
    if hasattr(config_class, "check"):
        config_class.check()

    app = Flask(
        __name__,
        instance_path=str(INSTANCE_DIR),
        template_folder=str(ROOT / "templates"),
    )
    app.config.from_object(config_class)
    if test_config:
        app.config.update(test_config)
    INSTANCE_DIR.mkdir(exist_ok=True)

    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    register_template_helpers(app)
    register_error_handlers(app)
    return app


def register_extensions(app: Flask) -> None:
    from finder import models, sqlite_tuning  # noqa: F401 (models: the schema for Alembic)
    from finder.extensions import csrf, db, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    with app.app_context():
        sqlite_tuning.install(db.engine)


def register_blueprints(app: Flask) -> None:
    from finder.api.views import bp as api_bp
    from finder.api.locator import bp as locator_bp
    from finder.directory.views import bp as directory_bp

    app.register_blueprint(directory_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(locator_bp)


def register_commands(app: Flask) -> None:
    from finder.seeding.cli import seed_command

    app.cli.add_command(seed_command)


def register_template_helpers(app: Flask) -> None:
    from finder import formatting

    formatting.register(app)


def register_error_handlers(app: Flask) -> None:
    from finder import errors

    errors.register(app)
