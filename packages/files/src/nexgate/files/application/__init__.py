"""Use cases of the files context: a command in, ports as arguments, a result out."""
