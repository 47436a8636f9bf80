"""Alembic migrations of the study database (schema owned by :mod:`study.models`).

Each change to :mod:`study.models` comes with a revision in ``versions/`` so that a study
database made by an older Barlow is upgraded in place when it is opened
(:func:`study.schema.upgrade_database`). ``tests/study/test_migrations.py`` checks that the
head revision builds exactly the tables the models declare.
"""
