"""Inference: load a trained generator from a checkpoint and predict files of any size.

- :mod:`i2i.inference.model`: :func:`load_model` rebuilds task and generator from the
  recipe stored in a weights file's metadata (EMA weights preferred).
- :mod:`i2i.inference.tiling`: overlapping tiles blended with a smooth window.
- :mod:`i2i.inference.formats`: reading inputs and writing outputs, dispatched by suffix
  to the formats plugins register (``register_formats``; the built-in image formats are in
  :mod:`i2i.data.image_formats`, DICOM and NIfTI in :mod:`i2i.medical.formats`).
- :mod:`i2i.inference.predict`: ``i2i predict``'s engine (batched, tiled, any device).
"""
