"""jaxcodesign.surrogates."""
