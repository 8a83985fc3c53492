"""Server models: interchangeable ways to serve the same bytes, benchmarked against each other.

``registry`` names every model; ``host`` runs one in the foreground; ``launcher``
runs one as a child process for a benchmark. Models themselves only accept and
serve on a socket the host already bound (see ``context.ServeContext``).
"""
