"""The SHA-256 the fixture's manifest records, and the checks compare against."""

import hashlib


def sha256_of(path):
    """Hex SHA-256 of a file, read in 4 MiB pieces so big fixture files stay out of memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(4 << 20):
            digest.update(chunk)
    return digest.hexdigest()
