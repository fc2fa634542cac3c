"""The catalog: services, error codes and the procedures that answer them."""
