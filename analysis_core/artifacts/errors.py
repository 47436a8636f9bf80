"""The one exception type that the CLI turns into a one-line message and a non-zero exit."""


class BarlowError(Exception):
    """A problem with the user's input or environment, described in one line.

    Raise it for anything a user can fix (a malformed file, a wrong option, a missing
    checkpoint); the CLI prints ``barlow: error: <message>`` and exits with status 2.
    Programming errors should stay ordinary exceptions so that their tracebacks show.
    """
