"""The service's routers: clean (stateless), collections (persistent), health."""
