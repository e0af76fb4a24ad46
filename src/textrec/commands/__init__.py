"""Sub-commands of the ``textrec`` console script: each module exposes ``register(subparsers)``.

Modules here import only argparse-level code at import time; the work happens inside the handlers.
"""
