"""The responder's console: server-rendered pages over the one service layer (docs/console.md).

``console.install(app)`` adds its routes and static files to the server's application (``serve.py``
composes the two front doors; neither imports the other). Pages are Jinja2 templates that are
part of the code, autoescaped; every page reads without JavaScript and every action is a plain
form post, which the vendored htmx (``static/``) only makes quicker.
"""
