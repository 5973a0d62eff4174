"""HTTP adapter: controllers, request/response Structs and the context's Litestar plugin."""
