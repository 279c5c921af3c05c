"""Performance measurements of the project on the machine at hand (``python -m bench.sr_bench``)."""
