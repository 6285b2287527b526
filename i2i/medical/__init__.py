"""Medical imaging: CT geometry and physics, phantoms, Hounsfield-unit windows, metrics
and DICOM/NIfTI input and output.

Modules (each imported on demand; this package imports nothing heavy at import time):

``i2i.medical.projector``  parallel-beam Radon transform and filtered back-projection (torch)
``i2i.medical.physics``    sparse-view and low-dose pair simulation from clean HU slices
``i2i.medical.phantom``    seedable random anatomical-like phantoms in HU
``i2i.medical.hu``         named HU windows, windowing and [-1, 1] normalisation
``i2i.medical.metrics``    PSNR/SSIM inside an HU window, RMSE/MAE in HU, per image
``i2i.medical.volume``     the :class:`~i2i.medical.volume.Volume` returned by the readers
``i2i.medical.dicom``      DICOM entry point: ``read_dicom``, ``read_dicom_series`` and the public names below
``i2i.medical.dicom_read``      one DICOM file: DICM marker, decoding through pydicom's plugins, HU, modality
``i2i.medical.dicom_series``    a folder's series: one per SeriesInstanceUID, copies and odd images left out, ordered
``i2i.medical.dicom_choice``    which series are used: selected by UID, number or description, then checked
``i2i.medical.dicom_listing``   ``i2i series``: every series under a folder and whether it is used
``i2i.medical.dicom_write``     derived series written beside the source
``i2i.medical.dicom_geometry``  normals, positions, spacing, affine, gantry tilt
``i2i.medical.nifti``      NIfTI volumes (nibabel)
``i2i.medical.io``         ``read_volume`` for any of DICOM / NIfTI / NPY, NPY reading
``i2i.medical.ct_catalog`` the slices of every volume under a folder (the ``ct`` source's catalogue)
``i2i.medical.folders``    every folder under a data folder once (symlinks, loops), names relative to it
"""

from __future__ import annotations
