"""User-facing errors: one clear line naming the file and the problem, never a traceback."""


class SGRSError(Exception):
    """An error caused by the user's input or environment; the CLI prints it as one line."""


class InputError(SGRSError):
    """An image, label, manifest or cohort that cannot be used as given."""


class ModelError(SGRSError):
    """A model bundle or checkpoint that is missing, inconsistent or refused."""


class JobError(SGRSError):
    """A training job folder that cannot be written or resumed."""
