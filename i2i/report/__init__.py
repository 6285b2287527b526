"""The run report: ``report.html``, one self-contained page per run directory.

- :mod:`i2i.report.curves`: loss, learning-rate and validation-metric curves as PNG plots.
- :mod:`i2i.report.page`: gathers the run's files and writes the page (:func:`write_report`).
"""
