"""finder: a treatment-center directory with honest, auditable call routing."""

import os
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

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
    hops = int(app.config.get("PROXY_FIX_HOPS") or 0)
    if hops > 0:
        # Trust this many proxies' X-Forwarded-*: request.url is then the public https URL
        # that Twilio signs.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,
                                x_port=hops)

    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    register_template_helpers(app)
    register_error_handlers(app)
    return app


def register_extensions(app: Flask) -> None:
    from finder import models, request_limits, security_headers, sqlite_tuning  # noqa: F401
    from finder.accounts.models import User
    from finder.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    request_limits.install(app)  # before CSRF, which reads the body
    security_headers.install(app)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Log in to see that page."

    @login_manager.user_loader
    def load_user(user_id: str):
        return db.session.get(User, int(user_id)) if user_id.isdigit() else None

    with app.app_context():
        sqlite_tuning.install(db.engine)


class RowIdConverter(IntegerConverter):
    """``<int:...>``, capped at the largest INTEGER column value: a bigger number in a URL is
    a 404 rather than a database error (PostgreSQL: integer out of range; SQLite: > 2**63)."""

    def __init__(self, map, fixed_digits=0, min=None, max=2**31 - 1, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def register_blueprints(app: Flask) -> None:
    # Before any rule is added: rules pick their converters when they are registered.
    app.url_map.converters["int"] = RowIdConverter
    from finder.accounts.views import bp as accounts_bp
    from finder.api.locator import bp as locator_bp
    from finder.api.views import bp as api_bp
    from finder.calls.views import bp as voice_bp
    from finder.changes.views import bp as changes_bp
    from finder.directory.views import bp as directory_bp
    from finder.extensions import csrf, limiter
    from finder.guides.views import admin_bp as guides_admin_bp
    from finder.guides.views import bp as guides_bp
    from finder.health import bp as health_bp
    from finder.listings.views import bp as listings_bp
    from finder.moderation.views import admin_bp as moderation_admin_bp
    from finder.moderation.views import bp as moderation_bp
    from finder.numbers.views import bp as numbers_admin_bp
    from finder.operations.views import bp as operations_bp
    from finder.pool.views import bp as pool_admin_bp
    from finder.staff.views import bp as staff_bp
    from finder.transfer.views import bp as transfer_bp
    from finder.transparency.views import bp as transparency_bp

    app.register_blueprint(directory_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(locator_bp)
    app.register_blueprint(voice_bp)
    app.register_blueprint(listings_bp)
    app.register_blueprint(moderation_bp)
    app.register_blueprint(moderation_admin_bp)
    app.register_blueprint(numbers_admin_bp)
    app.register_blueprint(pool_admin_bp)
    app.register_blueprint(changes_bp)
    app.register_blueprint(operations_bp)
    app.register_blueprint(transfer_bp)
    app.register_blueprint(transparency_bp)
    app.register_blueprint(guides_bp)
    app.register_blueprint(guides_admin_bp)
    app.register_blueprint(health_bp)
    # Twilio cannot send a CSRF token; its signature protects these routes instead. Every
    # webhook comes from Twilio's few addresses, so per-address rate limits would only ever
    # throttle callers: none apply there.
    csrf.exempt(voice_bp)
    limiter.exempt(voice_bp)


def register_commands(app: Flask) -> None:
    from finder.accounts.cli import users_group
    from finder.calls.cli import GROUPS as CALL_GROUPS
    from finder.seeding.cli import seed_command
    from finder.transfer.cli import export_group, import_group

    app.cli.add_command(seed_command)
    app.cli.add_command(users_group)
    app.cli.add_command(import_group)
    app.cli.add_command(export_group)
    for group in CALL_GROUPS:
        app.cli.add_command(group)


def register_template_helpers(app: Flask) -> None:
    from finder import formatting
    from finder.staff import navigation

    formatting.register(app)
    navigation.register(app)


def register_error_handlers(app: Flask) -> None:
    from finder import errors

    errors.register(app)
