"""Training: configuration (``config``), the loop (``loop``), the job folder (``job``) and
multi-process training (``distributed``)."""
