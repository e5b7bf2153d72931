"""gunicorn's settings: ``gunicorn -c python:config.gunicorn config.wsgi`` (docs/deployment.md).

The access log names each request by its route (``/v1/numbers/<number:number>``), never by its
raw path or query, which may hold a phone number; every line of the access and error logs is
masked by core.logging's rules as well, for what the route cannot cover (headers, a path
Django did not route, a traceback).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

# gunicorn ships no type information.
from gunicorn.config import Config  # type: ignore[import-untyped]
from gunicorn.glogging import Logger  # type: ignore[import-untyped]

from core.logging import ROUTE_ENVIRON_KEY, RedactingFilter, mask_text

accesslog = "-"  # standard output; the error log goes to standard error


def request_logged_path(environ: dict[str, Any]) -> str:
    """The route Django matched, else the path with its numbers masked; never the query."""
    route = environ.get(ROUTE_ENVIRON_KEY)
    if route is not None:
        return f"/{route}"
    return mask_text(environ.get("PATH_INFO", "") or "/")


class RouteLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger with the route in place of the request line's path, and redaction."""

    def setup(self, cfg: Config) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.addFilter(RedactingFilter())

    def atoms(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta
    ) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        path = request_logged_path(environ)
        atoms["r"] = f"{environ['REQUEST_METHOD']} {path} {environ['SERVER_PROTOCOL']}"
        atoms["U"] = path
        atoms["q"] = "-"
        # A page's address (the explorer's search) is as private as a request's.
        atoms["f"] = mask_text(environ.get("HTTP_REFERER", "-").split("?", 1)[0])
        return atoms


logger_class = RouteLogger
