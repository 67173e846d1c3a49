"""pd_model."""
