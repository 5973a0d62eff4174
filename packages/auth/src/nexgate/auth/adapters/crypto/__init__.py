"""Password hashing, code MACs, delivery encryption and refresh-token material."""
