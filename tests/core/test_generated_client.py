"""A client generated from the OpenAPI schema by openapi-python-client compiles and looks a
number up on a live server: the schema is one a generator can build a working client from.

The client is generated into the test's temporary folder, never kept."""

from __future__ import annotations

import compileall
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.ca.flow import NUMBER, certificate_issued
from tests.directory.flow import handler_published

pytestmark = pytest.mark.django_db(transaction=True)

GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture
def generated_client(tmp_path: Path, live_server: Any, settings: Any) -> Any:
    settings.RS_PUBLIC_URL = live_server.url
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(SchemaGenerator().get_schema(request=None, public=True)))
    # Its post-generation hook formats the code with ruff, found on PATH.
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [str(GENERATOR), "generate", "--path", str(schema), "--meta", "none"]
    done = subprocess.run(
        [*command, "--output-path", str(tmp_path / "rs_api")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert compileall.compile_dir(tmp_path / "rs_api", quiet=1)
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("rs_api")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == "rs_api"]:
            del sys.modules[name]


def test_a_generated_client_looks_a_number_up(generated_client, live_server, provider, issued_key):
    handler_published(provider, certificate_issued(provider), uri="sip:alice@chat.example")
    lookup = importlib.import_module("rs_api.api.look_up_numbers.numbers_lookup")
    client = generated_client.AuthenticatedClient(base_url=live_server.url, token=issued_key.secret)

    with client:
        answer = lookup.sync(NUMBER, client=client)
        unknown = lookup.sync_detailed("+12", client=client)

    assert type(answer).__name__ == "LookupOutput", answer
    assert answer.number == NUMBER
    assert [(h.service, h.uri) for h in answer.handlers] == [
        ("messaging", "sip:alice@chat.example")
    ]
    # A problem is parsed as the schema's Problem, from application/problem+json.
    assert unknown.status_code == 400
    assert type(unknown.parsed).__name__ == "Problem"
    assert unknown.parsed.to_dict()["type"].rsplit("/", 1)[1] in {
        "number-invalid",
        "number-malformed",
    }
