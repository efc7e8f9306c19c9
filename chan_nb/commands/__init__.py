"""One module per ``chan-nb`` subcommand (see :mod:`chan_nb.cli`)."""
