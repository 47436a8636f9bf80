"""The study's web side: worker pages, admin dashboard and JSON API as Flask blueprints."""
