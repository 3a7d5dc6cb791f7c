"""jaxcodesign.impute."""
