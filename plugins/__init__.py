"""Arena's built-in plugins. Installed as ``arena_plugins`` and loaded through the ``arena``
entry-point group, exactly like third-party plugins."""
