"""The staff navigation: each feature registers its pages here when its blueprint is registered."""

from flask import Flask

#: (endpoint, label, admin_only), in the order they appear.
_LINKS: list[tuple[str, str, bool]] = []


def add_link(endpoint: str, label: str, *, admin_only: bool = False) -> None:
    if (endpoint, label, admin_only) not in _LINKS:
        _LINKS.append((endpoint, label, admin_only))


def register(app: Flask) -> None:
    @app.context_processor
    def _staff_links():
        def staff_links():
            return [link for link in _LINKS if link[0] in app.view_functions]

        return {"staff_links": staff_links}
