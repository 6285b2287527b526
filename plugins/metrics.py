"""Built-in metrics, registered through the same hook as anybody's: the generic per-image
suite (MAE, PSNR, SSIM, MS-SSIM, :mod:`i2i.metrics`) and the records of the metrics ``i2i
eval`` computes on request (LPIPS, FID, KID: :mod:`i2i.evaluation.perceptual`)."""

from i2i import hookimpl
from i2i.metrics import GENERIC_METRICS, Metric

#: Computed by ``i2i eval`` when given weights files (``--lpips``, ``--inception``).
ON_REQUEST = (
    Metric("lpips", False, doc="learned perceptual distance (LPIPS), per image; i2i eval --lpips", on_request=True),
    Metric("fid", False, doc="Frechet inception distance of the output set; i2i eval --inception", on_request=True),
    Metric("kid", False, doc="kernel inception distance of the output set; i2i eval --inception", on_request=True),
)


def _factory(metric: Metric):
    def factory() -> Metric:
        return metric

    factory.__doc__ = metric.doc
    return factory


@hookimpl
def register_metrics(register):
    """Register the generic metrics and the on-request ones."""
    for metric in (*GENERIC_METRICS, *ON_REQUEST):
        register(metric.name, _factory(metric), metric.doc)
