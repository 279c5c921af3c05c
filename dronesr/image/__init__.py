"""Image files and what travels with them: decode, validate and encode (codecs), camera and
survey metadata, the provenance record, colour, resampling."""
