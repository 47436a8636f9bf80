"""The MTurk commands end to end through the real boto3 client and the fake endpoint."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from analysis_core.cli import main
from study.db import open_study_database
from study.models import Hit, Study


def hits_in_db(study):
    db = open_study_database(study, create=False)
    try:
        with db.sessions() as s:
            return {h.key: h.platform_hit_id for h in s.scalars(select(Hit).where(Hit.study_id == db.study_id))}, s.get(Study, db.study_id)
    finally:
        db.dispose()


def test_publish_external_sandbox_creates_each_hit_once(pstudy, aws_env, capsys):
    rc = main(["study", "publish", str(pstudy), "--platform", "mturk", "--sandbox", "--url", "https://study.example.org/"])
    out = capsys.readouterr().out
    assert rc == 0, out
    hits, study = hits_in_db(pstudy)
    assert all(hits.values()) and len(set(hits.values())) == len(hits) == len(aws_env.hits)
    assert study.platform == "mturk" and study.platform_sandbox is True
    q = aws_env.hits[next(iter(hits.values()))].question
    assert "<ExternalURL>https://study.example.org/hit/" in q
    assert f"published {len(hits)} HITs on MTurk sandbox" in out
    # Again: nothing new.
    assert main(["study", "publish", str(pstudy), "--platform", "mturk", "--sandbox", "--url", "https://study.example.org/"]) == 0
    assert len(aws_env.hits) == len(hits)
    assert "nothing to publish" in capsys.readouterr().out
