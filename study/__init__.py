"""Barlow's crowd-study side: HIT generation, the Flask app, platform adapters, storage, analysis."""
