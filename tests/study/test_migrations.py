"""Schema migrations: a database made by an older Barlow is upgraded in place, keeping every answer."""

import shutil
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, func, inspect, select, text

from analysis_core.artifacts.errors import BarlowError
from study.db import make_engine, open_study_database
from study.models import Answer, Base
from study.schema import BASELINE, current_revision, head_revision, upgrade_database

# Made by Barlow 0.1 (create_all, no migrations) from the `study_dir` fixture's study with
# 16 submitted assignments (15 local, 1 crowd), one held assignment and one review mark.
LEGACY_DB = Path(__file__).parent / "data" / "study-schema-v0.sqlite"
TABLES = ("studies", "hits", "workers", "assignments", "answers")
COUNTED = "SELECT count(*) FROM assignments a WHERE a.hit_id = hits.id AND a.status IN ('assigned', 'submitted')"


def dump(url: str) -> dict[str, list[tuple]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: sorted(tuple(r) for r in conn.execute(text(f"SELECT * FROM {t}"))) for t in TABLES}
    finally:
        engine.dispose()


def test_head_builds_exactly_the_tables_the_models_declare(database_url, study_dir):
    url = database_url or f"sqlite:///{study_dir / 'fresh.sqlite'}"
    engine = make_engine(url)
    try:
        assert upgrade_database(engine) == head_revision()
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == [], "study/models.py changed without a migration in study/migrations/versions"
    finally:
        engine.dispose()


def test_a_database_from_barlow_0_1_is_upgraded_in_place_and_keeps_every_answer(study_dir, clock):
    from study.app import create_app

    db_file = study_dir / "study.sqlite"
    for leftover in study_dir.glob("study.sqlite*"):
        leftover.unlink()
    shutil.copy(LEGACY_DB, db_file)
    before = dump(f"sqlite:///{db_file}")
    assert len(before["answers"]) == 64

    app = create_app(study_dir, admin_token="tok", clock=clock, secret_key="k")
    try:
        after = dump(f"sqlite:///{db_file}")
        for table in TABLES:
            kept = [row[: len(before[table][0])] for row in after[table]]
            assert kept == before[table], table
        with sqlite3.connect(db_file) as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head_revision()
            # Each HIT's count of taken slots starts from its assignments: 16 submitted, 1 held.
            assert conn.execute(f"SELECT sum(taken), sum(taken != ({COUNTED})) FROM hits").fetchone() == (17, 0)
        # The old answers are what the admin export shows.
        export = app.test_client().get("/admin/export/jsonl", headers={"Authorization": "Bearer tok"})
        assert export.status_code == 200 and len(export.get_data(as_text=True).splitlines()) == 16
    finally:
        app.extensions["barlow_study"].db.dispose()


def test_a_database_made_by_create_all_on_postgresql_is_upgraded(postgres_url, study_dir):
    # Barlow 0.1 on a PostgreSQL server: tables by create_all, no alembic_version.
    legacy = make_engine(f"sqlite:///{LEGACY_DB}")
    target = make_engine(postgres_url)
    try:
        Base.metadata.create_all(target)
        with legacy.connect() as src, target.begin() as dst:
            old_columns = {t: {c["name"] for c in inspect(src).get_columns(t)} for t in inspect(src).get_table_names()}
            for table in Base.metadata.sorted_tables:
                if table.name not in old_columns:
                    continue  # added by a later revision
                # Only the 0.1 columns: later revisions add the others (with their defaults).
                rows = [dict(r._mapping) for r in src.execute(select(*[c for c in table.c if c.name in old_columns[table.name]]))]
                if rows:
                    dst.execute(table.insert(), rows)
            dst.execute(text("SELECT setval(pg_get_serial_sequence('answers', 'id'), (SELECT max(id) FROM answers))"))
        assert upgrade_database(target) == head_revision()
        with target.connect() as conn:
            assert current_revision(conn) == head_revision()
            assert conn.scalar(select(func.count()).select_from(Answer)) == 64
            assert tuple(conn.execute(text(f"SELECT sum(taken), sum(CASE WHEN taken != ({COUNTED}) THEN 1 ELSE 0 END) FROM hits")).one()) == (17, 0)
    finally:
        legacy.dispose()
        target.dispose()
    db = open_study_database(study_dir, postgres_url)
    db.dispose()


def test_a_database_from_a_newer_barlow_is_refused(study_dir):
    db_file = study_dir / "study.sqlite"
    with sqlite3.connect(db_file) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    with pytest.raises(BarlowError, match="newer Barlow"):
        open_study_database(study_dir)
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("SELECT count(*) FROM hits").fetchone()[0] == 12


def test_readers_do_not_create_tables_in_an_empty_database(postgres_url, study_dir):
    with pytest.raises(BarlowError, match="no study tables"):
        open_study_database(study_dir, postgres_url, create=False)


def test_baseline_is_the_first_revision():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", "study:migrations")
    assert ScriptDirectory.from_config(config).get_base() == BASELINE


def test_revision_0003_marks_old_prolific_set_ups_unknown_and_leaves_their_currency_to_prolific(study_dir):
    from alembic import command

    from study.schema import _config

    url = f"sqlite:///{study_dir / 'at-0002.sqlite'}"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(_config(conn), "0002_crowd_platforms")
            now = "2026-11-01 10:00:00"
            for sid, platform in ((1, "prolific"), (2, "mturk"), (3, None)):
                conn.execute(text("INSERT INTO studies (id, name, title, settings, created_at, platform) VALUES (:i, :n, 't', '{}', :c, :p)"),
                             {"i": sid, "n": f"s{sid}", "c": now, "p": platform})
            conn.execute(text("INSERT INTO workers (id, external_id, source, created_at, last_seen_at) VALUES (1, 'prolific:P1', 'local', :c, :c)"), {"c": now})
            # Set up and maybe paid (earlier versions sent pay again), paid, never set up (nothing paid).
            for bid, remote, paid in ((1, "bulk1", None), (2, "bulk2", now), (3, None, None)):
                conn.execute(text("INSERT INTO bonuses (id, study_id, worker_id, amount_cents, reason, token, kind, remote_id, created_at, paid_at) "
                                  "VALUES (:i, 1, 1, 50, 'r', :t, 'manual', :r, :c, :p)"), {"i": bid, "t": f"tok{bid}", "r": remote, "c": now, "p": paid})
        assert upgrade_database(engine) == head_revision()
        with engine.connect() as conn:
            currencies = dict(conn.execute(text("SELECT name, platform_currency FROM studies")).all())
            sent = dict(conn.execute(text("SELECT remote_id, pay_sent_at IS NOT NULL FROM bonuses")).all())
        assert currencies == {"s1": None, "s2": "USD", "s3": None}
        assert sent == {"bulk1": 1, "bulk2": 0, None: 0}
    finally:
        engine.dispose()


def test_revision_0004_counts_existing_slots_keeps_counting_and_both_revisions_go_back(database_url, study_dir):
    from alembic import command

    from study.schema import _config

    url = database_url or f"sqlite:///{study_dir / 'at-0003.sqlite'}"
    engine = make_engine(url)
    now = "2026-11-01 10:00:00"

    def add_assignment(conn, aid, hit, worker, status):
        conn.execute(text("INSERT INTO assignments (id, public_id, hit_id, worker_id, status, mode, accepted_at, review_note, bonus_cents) "
                          "VALUES (:i, :p, :h, :w, :s, 'local', :c, '', 0)"), {"i": aid, "p": f"P{aid}", "h": hit, "w": worker, "s": status, "c": now})

    def taken(conn):
        return dict(conn.execute(text("SELECT key, taken FROM hits")).all())

    try:
        with engine.begin() as conn:
            command.upgrade(_config(conn), "0003_platform_money")
            conn.execute(text("INSERT INTO studies (id, name, title, settings, created_at) VALUES (1, 's', 't', '{}', :c)"), {"c": now})
            for hid in (1, 2):
                conn.execute(text("INSERT INTO hits (id, study_id, key, position, grouping, class_name, feature, is_attention_check, check_id, images, max_assignments, created_at) "
                                  "VALUES (:i, 1, :k, :i, 'label', 'c', 0, false, '', '{}', 3, :c)"), {"i": hid, "k": f"h{hid}", "c": now})
            for wid in (1, 2, 3):
                conn.execute(text("INSERT INTO workers (id, external_id, source, created_at, last_seen_at) VALUES (:i, :e, 'local', :c, :c)"), {"i": wid, "e": f"w{wid}", "c": now})
            for aid, (hit, worker, status) in enumerate([(1, 1, "submitted"), (1, 2, "assigned"), (1, 3, "released"), (2, 1, "released")], start=1):
                add_assignment(conn, aid, hit, worker, status)
        assert upgrade_database(engine) == head_revision()
        with engine.begin() as conn:
            assert taken(conn) == {"h1": 2, "h2": 0}
            # Written by hand after the upgrade: the triggers keep the count.
            add_assignment(conn, 5, 2, 2, "assigned")
            conn.execute(text("UPDATE assignments SET status = 'assigned' WHERE id = 3"))
            conn.execute(text("UPDATE assignments SET status = 'released' WHERE id = 2"))
            assert taken(conn) == {"h1": 2, "h2": 1}
        with engine.begin() as conn:  # back past 0003 as well, with a study in the tables
            command.downgrade(_config(conn), "0002_crowd_platforms")
        with engine.connect() as conn:
            assert "taken" not in {c["name"] for c in inspect(conn).get_columns("hits")}
            assert "platform_currency" not in {c["name"] for c in inspect(conn).get_columns("studies")}
            # No trigger is left behind to write a column that is gone.
            add_assignment(conn, 6, 2, 3, "assigned")
            conn.commit()
    finally:
        engine.dispose()
