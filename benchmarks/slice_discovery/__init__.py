"""A dcbench-style slice-discovery benchmark on Fashion-MNIST: Barlow against the tools a user would pick instead.

Tasks (``tasks``) plant a known slice in an inspected model's training data; the inspected
models and the robust features are cached (``cache``); every slicer (``slicers``) sees the same
features, labels and predictions of one half of the test split and scores the images of the
other half; ``metrics`` match each true slice to its best predicted slice (precision-at-k,
AUROC). ``run`` puts it together; the entry point is benchmarks/slice_discovery.py.
"""
