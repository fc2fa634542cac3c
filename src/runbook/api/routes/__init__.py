"""The service's routes, one module per resource; each declares its permission."""
