"""jaxcodesign.search."""
