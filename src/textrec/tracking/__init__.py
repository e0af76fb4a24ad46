"""MLflow tracking, model registry and serving: the only package that imports mlflow (always lazily).

    files       read a finished pipeline run's files (no MLflow)
    store       tracking URI / artifact location: project SQLite by default, MLFLOW_TRACKING_URI wins
    live        the train stage's run: its curve logged as it trains, continued on resume
    log         track_pipeline_run: one MLflow run per backbone (the training's live run when there is one),
                grouped by a pipeline_run_id tag
    registry    register_best / register_run (alias challenger), promote (gates), rollback
    gates       the promotion gates, pure functions
    images      request parsing for the served model: bytes / base64 / paths, size limits (no MLflow)
    recognizer  the registered pyfunc model (ONNX + preprocessing + CTC decoding)
    scoring     `textrec serve`'s MLflow side: fetch the model once, MLflow's scoring app for it

Importing this package imports none of its modules.
"""
