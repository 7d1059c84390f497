"""A source that lives outside the package, to prove the source shape (docs/ADDING_A_SOURCE.md): facts
read from a CSV keyed by MSD track id. Everything it owns is in this folder; it is switched on with
``[sources] plugins = tests.example_source.source`` and ``[sources] enabled``."""
