from flask import Blueprint
bp = Blueprint("locator", __name__, url_prefix="/locator")
