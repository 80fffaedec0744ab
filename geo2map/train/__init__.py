"""Training: datasets, Pix2Pix and CycleGAN, the loop behind ``geo2map train``."""
