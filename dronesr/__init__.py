"""dronesr: super-resolution and style transfer for drone imagery, served by TorchServe.

The core package holds everything more than one side of the project needs: the architectures,
checkpoint I/O, resampling, tiling, image decoding/validation/encoding and the metrics.
Training scripts, handlers, benchmarks and tests all import from here.
"""

__version__ = "0.1.0"
