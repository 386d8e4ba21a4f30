"""The Flask extensions, created unbound; ``create_app`` binds them with ``init_app``."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from finder.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
#: Limits apply only where a view asks for one; storage is RATELIMIT_STORAGE_URI (memory or Redis).
limiter = Limiter(key_func=get_remote_address, default_limits=[])
