"""Production settings pass ``check --deploy`` and refuse to start without a secret key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "k" * 20 + "-production-secret-for-the-deploy-check-0123456789",
    "DJANGO_ALLOWED_HOSTS": "rs.example.net",
    "DATABASE_URL": "postgres://rs@db.example.net:5432/rs",
    "CACHE_URL": "rediscache://redis.example.net:6379/1",
    "CELERY_BROKER_URL": "redis://redis.example.net:6379/0",
    "RS_PUBLIC_URL": "https://rs.example.net",
    "RS_KEY_PASSPHRASE": "a-long-production-passphrase",
    "SMS_BACKEND": "twilio",
    "RS_TRUSTED_PROXIES": "1",  # one TLS proxy in front, as docs/deployment.md says
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_documented_environment():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_key_passphrase():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "RS_KEY_PASSPHRASE"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "RS_KEY_PASSPHRASE" in result.stderr


def test_production_refuses_to_start_without_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_a_broker():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "CELERY_BROKER_URL"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "CELERY_BROKER_URL must be set" in result.stderr


def test_production_refuses_an_sms_backend_that_prints_codes():
    for backend in ("console", "locmem"):
        result = _manage("check", env=PRODUCTION_ENV | {"SMS_BACKEND": backend})
        assert result.returncode != 0
        assert f"SMS_BACKEND={backend} cannot be used in production" in result.stderr
    missing = {k: v for k, v in PRODUCTION_ENV.items() if k != "SMS_BACKEND"}
    assert _manage("check", env=missing).returncode != 0


def test_production_refuses_a_migrate_url_for_another_database():
    owner = {"DATABASE_MIGRATE_URL": "postgres://rs_owner@db.example.net:5432/other"}
    result = _manage("check", env=PRODUCTION_ENV | owner)
    assert result.returncode != 0
    assert "DATABASE_MIGRATE_URL must name the database of DATABASE_URL" in result.stderr
    same = {"DATABASE_MIGRATE_URL": "postgres://rs_owner@db.example.net:5432/rs"}
    assert _manage("check", env=PRODUCTION_ENV | same).returncode == 0
