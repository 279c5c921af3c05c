"""Training, dataset and evaluation commands (``python -m training.<command> --help``)."""
