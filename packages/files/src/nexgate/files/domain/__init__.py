"""Pure domain of the files context: purposes, kinds, limits, stored files and their errors."""
