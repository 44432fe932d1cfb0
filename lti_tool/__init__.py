"""LTI 1.3 tool and web pages: a thin Flask shell over :mod:`core`."""
