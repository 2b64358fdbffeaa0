"""The plugin contract: the hooks (:mod:`.hookspecs`), what plugins register (:mod:`.envs`,
:mod:`.agents`, :mod:`.algorithms`) and the loader that collects it (:mod:`.manager`)."""
