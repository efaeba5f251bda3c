"""Templates of ``hub plugin new`` (see :mod:`hub.scaffold`); ``.tmpl`` files, so that neither test
collection nor linters mistake them for the hub's own code."""
