"""chan_nb: explore the æternity State Channel protocol from Jupyter."""

__version__ = "0.1.0"
