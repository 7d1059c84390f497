"""Every catalog the pipeline asks, one folder each (``sources/<name>/``), and what they share.

``registry`` lists them, ``base`` holds the ``Source`` shape and the stored-lookup gateway, ``answers``
the answer store. Importing this package imports none of the sources (nor Luigi's task graph):
``registry.get(name)`` loads a source when it is asked for. docs/ADDING_A_SOURCE.md walks through a new one.
"""
