"""Media tools: type sniffing from bytes, the safe image pipeline, PDF checks."""
