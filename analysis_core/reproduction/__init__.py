"""``barlow reproduce``: the paper's sections 6-9 from one config, locally or on a Dask cluster.

``config`` reads the YAML file, ``shards`` extracts features in shards, ``cells`` runs the
section 7 analysis cells, ``visuals`` draws the features sections 6, 8 and 9 show,
``figures`` and ``claims`` make the paper's figures and check its claims, ``report`` writes
report.md/report.html and ``pipeline`` chains the steps.
"""
