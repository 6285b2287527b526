"""Evaluation: ``i2i eval``'s metrics of a trained generator and of the identity baseline.

- :mod:`i2i.evaluation.perceptual`: FID, KID (torchmetrics) and LPIPS from local weights files.
- :mod:`i2i.evaluation.evaluate`: pairs built as in training, the model run, ``eval.json`` + CSV.
"""
