"""lake-ingest: land raw responses from third-party REST APIs in the raw zone of an S3 data lake."""

__version__ = "0.3.0"
