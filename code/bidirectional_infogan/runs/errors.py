"""The errors a user sees as one line (no traceback) and exit code 2, gathered for every command-line tool."""

from __future__ import annotations

from bidirectional_infogan.data.common import DataError
from bidirectional_infogan.model.config import ConfigError
from bidirectional_infogan.runs.run_folder import RunFolderError


class TrainingError(Exception):
    """Training could not go on (the message is meant for the user)."""


# Errors whose message is shown to the user as one line (no traceback), exit code 2.
USER_ERRORS = (ConfigError, DataError, RunFolderError, TrainingError)
