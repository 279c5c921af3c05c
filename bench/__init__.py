"""Measurements of the project on the machine at hand; each module runs as ``python -m bench.<name>``."""
