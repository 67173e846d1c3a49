"""Repository-wide pytest settings."""

# The "models from code" file registers a model with MLflow when imported; MLflow imports it itself.
collect_ignore = ["src/credit_points/tracking/pyfunc_model.py"]
collect_ignore.append("src/credit_points/cli/__main__.py")
