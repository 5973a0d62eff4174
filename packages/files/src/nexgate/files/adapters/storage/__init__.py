"""`BlobStore` adapters: the filesystem (embedded default) and S3 (minio SDK)."""
