"""HTTP adapter of the files context: uploads, reads, deletion and the media route."""
