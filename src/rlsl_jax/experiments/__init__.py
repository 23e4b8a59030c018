"""Command-line experiments: ``python -m rlsl_jax.experiments.<name> --help``.

Multi-host (``--distributed``): ``jax.distributed.initialize()`` must run before anything touches
the XLA backend, and the CLI modules import gymnax/envpool, which do. Python imports this package
before it runs ``python -m rlsl_jax.experiments.<name>`` (``sys.argv[0]`` is then still "-m"), so
the flag is acted on here, first. ``main(argv)`` called from Python initialises in
``rlsl_jax.cli.setup_parallel`` instead (possible only if nothing has used JAX yet).
"""

import sys as _sys

if _sys.argv[:1] == ["-m"] and "--distributed" in _sys.argv:
    from rlsl_jax.parallel import initialize_from_argv as _init

    _init(_sys.argv[1:])
