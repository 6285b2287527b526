"""The training engine: a plain-PyTorch GAN trainer with separate, small parts."""
