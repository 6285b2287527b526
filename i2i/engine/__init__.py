"""The training engine: a plain-PyTorch GAN (or supervised) trainer whose parts are built once
(:mod:`i2i.engine.parts`), whose run state has its own object (:mod:`i2i.engine.run_state`) and
whose validation results are applied in one place (:mod:`i2i.engine.trainer`)."""
