"""Fixtures for the platform tests: a study, a fake MTurk endpoint over HTTPS, AWS settings pointing at it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

# Fixtures from elsewhere (F401): the spec-checking fake Prolific of the end-to-end tests and
# both database backends, for the other Prolific test files.
from tests.platforms.fakes.mturk import FakeMTurk, Running
from tests.platforms.test_prolific import prolific  # noqa: F401
from tests.study.conftest import database_url, make_analysis, make_study, postgres_server, postgres_url  # noqa: F401

AKID, SECRET = "AKIDFAKEMTURK", "fake-secret"


@pytest.fixture(scope="session")
def tls(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (CA:TRUE, so it is its own CA bundle)."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-addext", "basicConstraints=critical,CA:TRUE",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="session")
def platform_analysis(tmp_path_factory) -> Path:
    return make_analysis(tmp_path_factory.mktemp("platform-analysis"))


@pytest.fixture
def pstudy(platform_analysis, tmp_path) -> Path:
    """12 HITs plus one attention check, 2 assignments each, $0.50 per HIT."""
    return make_study(platform_analysis, tmp_path / "study", top_n=1, top_m=2, assignments_per_hit=2, attention_checks=1)


def good_answers(spec, hit_key: str, hits_csv: dict, fail_check: bool = False, text: str = "the collar of a shirt") -> dict:
    """Form fields a careful worker sends for one HIT (or one who misses the attention check)."""
    fields = {"description": text, "ease": "4", "confidence": "3", "useful_view": "B and C"}
    row = hits_csv[hit_key]
    if row.is_attention_check:
        check = spec.attention_check(row.check_id)
        fields.update(check.expected)
        if fail_check:
            qid, value = next(iter(check.expected.items()))
            q = spec.question(qid)
            options = q.options if q.type == "choice" else [str(v) for v in range(q.scale_min, q.scale_max + 1)]
            fields[qid] = next(o for o in options if o != value)
    return fields


@pytest.fixture
def answers_for(pstudy):
    from study.hits import load_hits
    from study.study_file import load_study_file

    spec = load_study_file(pstudy)
    hits = {h.key: h for h in load_hits(pstudy)}
    return lambda key, **kw: good_answers(spec, key, hits, **kw)


@pytest.fixture
def fake_mturk(tls):
    fake = FakeMTurk(credentials={AKID: SECRET})
    server = Running(fake, ssl=tls)
    fake.url = server.url
    yield fake
    fake.release.set()
    server.close()


@pytest.fixture
def aws_env(monkeypatch, fake_mturk, tls, tmp_path):
    """The standard AWS chain, pointed at the fake through boto3's own endpoint setting."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AKID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ENDPOINT_URL_MTURK", fake_mturk.url)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tls[0]))
    return fake_mturk
