"""SGRSTrain needs exactly what SGRSSegment needs (both run the same engine): one list, one installer."""
from SGRSSegmentLib.dependencies import (  # noqa: F401  (re-exported)
    DependencyError,
    install,
    missing_packages,
    self_test_skip_reason,
)
