"""Published confd setups (one directory per resource, each with its SOURCE) and their runner."""
