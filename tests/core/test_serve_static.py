"""Static files on the development server (``manage.py serve``): a path that climbs out of the
static folders is a 404, never a 500 with a traceback (issue 16, item 8).

runserver's own static handler (django.contrib.staticfiles) lets SuspiciousFileOperation from
``/static/%2e%2e/…`` through as a 500; ``serve`` leaves static files to WhiteNoise, which
serves only the files it found and answers nothing else.
"""

from __future__ import annotations

import httpx

from tests.core.test_serve import _free_port, _serve, _stop, _wait_healthy


def test_the_development_server_serves_static_files_and_refuses_to_climb_out(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    process = _serve(tmp_path, port)
    try:
        _wait_healthy(base, process)
        with httpx.Client(base_url=base) as client:
            style = client.get("/static/admin/css/base.css")
            climbs = [
                client.get(httpx.URL(base + path))
                for path in (
                    "/static/%2e%2e/manage.py",
                    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                    "/static/admin/%2e%2e/%2e%2e/%2e%2e/settings.py",
                    "/static/..%2fmanage.py",
                    "/static/%00",
                )
            ]
    finally:
        output = _stop(process)

    assert style.status_code == 200 and "text/css" in style.headers["content-type"]
    assert [response.status_code for response in climbs] == [404] * len(climbs), output
    assert "Traceback" not in output and "SuspiciousFileOperation" not in output
