"""i2i benchmarks: ratios against a plain PyTorch pix2pix loop, measured in one process."""
