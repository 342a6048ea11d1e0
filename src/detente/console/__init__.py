"""The operator console: the pages watch officers work in, served by each node.

Server-rendered (Jinja2) pages with a little JavaScript of our own, and no
asset from the network: templates, styles, scripts, the base map and the
interface languages are all in this package.
"""
