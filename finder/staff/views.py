"""The staff home: what needs attention, and links to every staff page the role may use."""

from flask import Blueprint, render_template

from finder.accounts.roles import protect_blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")
protect_blueprint(bp)


@bp.get("/")
def home():
    return render_template("staff/home.html")
