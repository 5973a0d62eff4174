"""Use cases: a command in, ports as arguments, a result out."""
