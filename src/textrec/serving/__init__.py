"""The HTTP server of the registered model: MLflow's scoring app behind a guard (``textrec serve``).

    guard    ASGI middleware: refuses a body over the size limit with 413 before reading it, and replaces
             every 4xx/5xx body with a short JSON error that never holds request bytes (no MLflow here)
    errors   what each refusal says: the model's own messages, or a fixed sentence per kind of error
    server   the settings a server runs with and the uvicorn run (the app is built by
             ``textrec.tracking.scoring``, the MLflow side)

MLflow's bare scoring server (``mlflow models serve``, ``build-docker``) quotes a malformed body in its 400
(a 100 kB body comes back as a 100 kB error) and reads bodies of any size: this package is why the project
serves with ``textrec serve`` instead.
"""
