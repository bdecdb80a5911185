"""Files residents send: their kinds read from their bytes, storage (a folder or a bucket), the background fetch."""
