"""Crowd platforms: publish a study's HITs, collect, review and pay (Mechanical Turk, Prolific)."""
