"""After production: the prediction log, drift monitoring and the hard-example loop (no MLflow here).

    fingerprint  what is kept of a logged image: sha256, a 64-bit perceptual hash (dHash), its size
    store        the prediction log: SQLite (WAL), bounded, written by a background thread; read-only access
    hooks        the name and version a Recognizer logs under
    reference    a model's reference: its predictions on its validation set, as a JSON file
    drift        the checks of a window of the log against the reference (scipy.stats)
    report       the HTML report of a check
    monitor      `textrec monitor`: window -> checks -> verdict
    select       `textrec select`: least-confident logged images, near-duplicates removed -> labelling batch
    labels       a labelled batch -> rows of data/own (PaddleOCR layout)

Importing this package imports none of its modules.
"""
