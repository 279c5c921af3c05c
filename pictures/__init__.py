"""Scripts that draw the pictures of the README and docs/ (`make docs`); each explains itself in --help."""
