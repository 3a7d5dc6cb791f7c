"""jaxcodesign.hardware."""
