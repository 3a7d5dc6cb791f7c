"""jaxcodesign.models."""
