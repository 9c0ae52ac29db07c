"""Files the program loads at run time (application icon, style sheet), read through
``importlib.resources`` so they work from a source tree, an installed wheel and a frozen bundle
alike. See :mod:`desktop_app.resources`."""
