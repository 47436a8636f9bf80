"""Crowd platforms: publish a study, collect, review and pay (Prolific; MTurk-compatible endpoints, MTurk having closed)."""
