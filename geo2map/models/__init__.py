"""Models: networks, the self-describing model file, built-in model registry, reference import."""
