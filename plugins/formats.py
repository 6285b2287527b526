"""Built-in file formats of ``i2i predict``: the image formats (PNG, JPEG, TIFF, BMP, WebP,
NPY) and the medical ones (DICOM, NIfTI), through the same hook as anybody's.

The format modules are imported when the hook runs, not when the plugin loads: every command
loads the plugins, and these modules bring in torch, pydicom and nibabel (seconds)."""

from i2i import hookimpl


@hookimpl
def register_formats(register):
    """Register the image and medical formats."""
    from i2i.data.image_formats import IMAGE_FORMATS
    from i2i.medical import formats as medical

    for name, factory in IMAGE_FORMATS.items():
        register(name, factory)
    register("dicom", medical.dicom)
    register("nifti", medical.nifti)
