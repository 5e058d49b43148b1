"""The one exception type that the command line turns into a clear message and exit status 2."""


class HiresError(Exception):
    """A problem the user can fix: bad input, a broken config, an output that cannot be written.

    The message is one line that names the problem and the fix, e.g.
    ``cannot read photo.jpg: the file is empty. Pass a JPEG, PNG, TIFF or WebP image.``
    """
