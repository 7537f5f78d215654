"""The ``nwb-tavrnn`` command line: one module per subcommand, composed in :mod:`.main`."""
